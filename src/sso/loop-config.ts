// What the SSO loop (iterate.ts) reads of the config: the backend, the synth and train sections and the iterate
// section's loop settings. src/config.ts adds the iterate section's evaluation (src/eval/ is above this layer: the
// loop is handed an evaluator instead of importing it) and reads the file.
import { z } from "zod";
import type { BackendName } from "../backends/index.js";
import type { SynthConfig } from "./config.js";
import { ServerConfig } from "./server-config.js";
import { ObjectiveSettings, type TrainConfig } from "./train-config.js";

export const IterateSettings = z.strictObject({
  /** SSO iterations (synthesise → train) to run. */
  iterations: z.number().int().positive().default(3),
  /** Reference model of each iteration: its starting snapshot (the spec's default) or the initial model. */
  reference: z.enum(["iteration", "initial"]).default("iteration"),
  /**
   * v1 (absent): the policy synthesises its own pairs and trains on them with train.objective. v2 (METHOD.md §3,
   * generator mode): per iteration a generator, started from the policy, trains with `generator` on pairs it
   * synthesises itself; then it writes the pairs for the policy's prompts, and the policy trains on them with
   * train.objective, which must be plain IPO or DPO.
   */
  mode: z.enum(["v1", "v2"]).optional(),
  /** v2: the generator's objective (absent: the preset sso-v2-generator). */
  generator: ObjectiveSettings.optional(),
  /** A policy server `sso iterate` starts and swaps itself for synthesis (src/sso/server-config.ts). */
  server: ServerConfig.optional(),
});
export type IterateSettings = z.infer<typeof IterateSettings>;

/** The resolved config the loop runs on (src/config.ts SsoConfig, whose iterate section may also hold `eval`). */
export interface LoopConfig {
  backend: BackendName;
  synth: SynthConfig;
  train: TrainConfig;
  iterate: IterateSettings;
}
