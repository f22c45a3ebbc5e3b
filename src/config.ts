// The one `sso` config: synthesis, training and the iterate loop, each a zod section with documented defaults
// (SSO-SPEC values), read from a JSON or YAML file; command-line flags override single keys. An unknown or
// mistyped key anywhere is a one-line error naming it. `sso config` shows the effective result.
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { BACKEND_NAMES } from "./backends/index.js";
import { IterationEvalConfig } from "./eval/config.js";
import { resolveSynthConfig, SynthConfig } from "./sso/config.js";
import { readStructuredFile } from "./sso/file.js";
import { ServerConfig } from "./sso/server-config.js";
import { ObjectiveSettings, TrainConfig } from "./sso/train-config.js";

export const IterateConfig = z.strictObject({
  /** SSO iterations (synthesise → train) to run. */
  iterations: z.number().int().positive().default(3),
  /** Reference model of each iteration: its starting snapshot (the spec's default) or the initial model. */
  reference: z.enum(["iteration", "initial"]).default("iteration"),
  /** An evaluation after each iteration (src/eval/iteration.ts): world checkers and/or math accuracy. */
  eval: IterationEvalConfig.optional(),
  /**
   * v1 (absent): the policy synthesises its own pairs and trains on them with train.objective. v2 (SSO-SPEC §3,
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
export type IterateConfig = z.infer<typeof IterateConfig>;

export const SsoConfig = z.strictObject({
  backend: z.enum(BACKEND_NAMES).default("cpu"),
  synth: SynthConfig.prefault({}),
  train: TrainConfig.prefault({}),
  iterate: IterateConfig.prefault({}),
});
export type SsoConfig = z.infer<typeof SsoConfig>;

/** The config file as written (defaults filled in), or the defaults when there is none. */
export function loadConfig(file: string | undefined): SsoConfig {
  return file === undefined ? SsoConfig.parse({}) : readStructuredFile(file, SsoConfig, "config");
}

/** The config file ready for the library: defaults filled in and file paths in it made relative to the file. */
export function resolveConfig(file: string | undefined): SsoConfig {
  const c = loadConfig(file),
    math = c.iterate.eval?.math;
  const iterate =
    math && file !== undefined && !isAbsolute(math.data)
      ? { ...c.iterate, eval: { ...c.iterate.eval, math: { ...math, data: resolve(dirname(file), math.data) } } }
      : c.iterate;
  return { ...c, synth: resolveSynthConfig(c.synth, file), iterate };
}
