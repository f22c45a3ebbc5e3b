// The training config: the objective (a preset plus field overrides) and the optimisation settings, as one zod
// schema with documented defaults. The SSO-SPEC §3 values are the defaults, except the learning rate, which the
// spec gives for 7–8B models (5e-7) and which small models need far larger.
import { z } from "zod";
import { type ObjectiveConfig, PRESETS } from "./objective.js";

const PRESET_NAMES = Object.keys(PRESETS) as [string, ...string[]];

export const ObjectiveSettings = z.strictObject({
  /** sso, pbaa (= w/o W,G), sso-no-w, sso-no-g, sso-backdoor, sso-dpo, sso-v2-generator, ipo, dpo. */
  preset: z.enum(PRESET_NAMES).default("sso"),
  base: z.enum(["ipo", "dpo"]).optional(),
  beta: z.number().positive().optional(),
  theta: z.number().min(0).optional(),
  alpha: z.number().min(0).max(1).optional(),
  useWeight: z.boolean().optional(),
  weightScope: z.enum(["all", "steering"]).optional(),
  detachWeight: z.boolean().optional(),
  steering: z.enum(["sso", "backdoor", "none"]).optional(),
  gamma: z.number().min(0).optional(),
});
export type ObjectiveSettings = z.infer<typeof ObjectiveSettings>;

export const TrainConfig = z.strictObject({
  objective: ObjectiveSettings.prefault({}),
  /** Peak learning rate (cosine schedule after linear warmup). */
  lr: z.number().positive().default(5e-7),
  epochs: z.number().int().positive().default(1),
  /** Records per optimizer step. */
  batchSize: z.number().int().positive().default(16),
  /** Records per forward/backward pass (gradients accumulate over batchSize / microBatch passes). */
  microBatch: z.number().int().positive().default(4),
  warmupRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).default(0.1),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.95),
  eps: z.number().positive().default(1e-8),
  /** Global gradient-norm clip; 0 = off. */
  maxGradNorm: z.number().min(0).default(1),
  /** Shuffles the records each epoch. */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** Optimizer steps between checkpoints (0 = only at the end). */
  saveEvery: z.number().int().min(0).default(50),
  /** Parameter-name globs that are not trained, e.g. "model.embed_tokens.*". */
  freeze: z.array(z.string()).default([]),
  /** Weight dtype of saved model folders. */
  saveDtype: z.enum(["F32", "BF16"]).default("F32"),
});
export type TrainConfig = z.infer<typeof TrainConfig>;

/** The preset with the config's overrides applied. */
export function objectiveConfig(s: ObjectiveSettings): ObjectiveConfig {
  const { preset, ...overrides } = s;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...PRESETS[preset], ...defined };
}
