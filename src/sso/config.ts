// The synthesis config: one zod schema with the spec's defaults (METHOD.md §2) — the `synth` section of the global
// config (src/config.ts) — plus the command-line overrides of `sso synth`. An unknown or mistyped key is a
// one-line error naming it.
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { validate } from "./file.js";

const temperature = z.number().min(0);
const topP = z.number().gt(0).max(1);
const tokens = z.number().int().positive();

export const SynthConfig = z.strictObject({
  /** Run seed; every random choice for prompt i derives from (seed, iteration, i). */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** SSO iteration this data is for (recorded, and part of every seed). */
  iteration: z.number().int().min(0).default(0),
  /** Prompts processed together: one generate call per stage and one scoring call per chunk. */
  batch: z.number().int().positive().default(16),
  /** A JSON/YAML feature file extending or replacing the built-in library (relative to the config file). */
  features: z.string().min(1).optional(),
  /** Features kept per prompt (the policy's first k, padded with random ones when it names fewer). */
  k: z.number().int().positive().default(2),
  /** Probability of adding Concision to a prompt's features (the authors' 0.2); needs a feature named Concision. */
  concisionProb: z.number().min(0).max(1).default(0.2),
  /** Decoding of the feature-selection answer: greedy and short by default. */
  selection: z
    .strictObject({
      temperature: temperature.default(0),
      topP: topP.default(1),
      maxNewTokens: tokens.default(32),
    })
    .prefault({}),
  /** Let the policy write query-specific principles (JSON) instead of using the library texts. */
  queryPrinciples: z.boolean().default(false),
  principles: z
    .strictObject({
      temperature: temperature.default(0.7),
      topP: topP.default(0.8),
      maxNewTokens: tokens.default(256),
    })
    .prefault({}),
  /** Sampling of y+, y- and y° (the spec's 0.7 / 0.8); rawGreedy decodes y° greedily, as AutoAlign does. */
  sampling: z
    .strictObject({
      temperature: temperature.default(0.7),
      topP: topP.default(0.8),
      topK: z.number().int().min(0).default(0),
      maxNewTokens: tokens.default(256),
      rawGreedy: z.boolean().default(false),
    })
    .prefault({}),
  filters: z
    .strictObject({
      /** Drop a record when any of its three answers hit maxNewTokens. */
      dropTruncated: z.boolean().default(false),
      /** The authors' log-prob ordering filter (METHOD.md §2.5), a final pass over the whole set. */
      logpOrder: z.boolean().default(false),
    })
    .prefault({}),
  /** Tokens per forward batch when scoring reference log-probs (a prompt the batch's pairs share counts once). */
  scoreBatchTokens: tokens.default(4096),
});
export type SynthConfig = z.infer<typeof SynthConfig>;

export const SYNTH_DEFAULTS: SynthConfig = SynthConfig.parse({});

/** Command-line flags that override the file. */
export interface SynthOverrides {
  seed?: number;
  iteration?: number;
  batch?: number;
  features?: string;
  maxNewTokens?: number;
}

/**
 * The synth section of a loaded config (src/config.ts), with command-line overrides applied; a feature path given
 * in the config file is made relative to that file.
 */
export function resolveSynthConfig(base: SynthConfig, file: string | undefined, o: SynthOverrides = {}): SynthConfig {
  const features =
    o.features ??
    (base.features !== undefined && file !== undefined && !isAbsolute(base.features)
      ? resolve(dirname(file), base.features)
      : base.features);
  const merged = {
    ...base,
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.iteration !== undefined && { iteration: o.iteration }),
    ...(o.batch !== undefined && { batch: o.batch }),
    ...(features !== undefined && { features }),
    sampling: { ...base.sampling, ...(o.maxNewTokens !== undefined && { maxNewTokens: o.maxNewTokens }) },
  };
  return validate(merged, SynthConfig, "command line");
}
