// The one `sso` config: synthesis, training and the iterate loop, each a zod section with documented defaults
// (METHOD.md values), read from a JSON or YAML file; command-line flags override single keys. An unknown or
// mistyped key anywhere is a one-line error naming it. `sso config` shows the effective result.
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { BACKEND_NAMES } from "./backends/index.js";
import { IterationEvalConfig } from "./eval/config.js";
import { resolveSynthConfig, SynthConfig } from "./sso/config.js";
import { readStructuredFile } from "./sso/file.js";
import { IterateSettings } from "./sso/loop-config.js";
import { TrainConfig } from "./sso/train-config.js";

export const IterateConfig = IterateSettings.extend({
  /** An evaluation after each iteration (src/eval/iteration.ts): world checkers and/or math accuracy. */
  eval: IterationEvalConfig.optional(),
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
