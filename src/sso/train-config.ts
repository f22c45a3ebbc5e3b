// The training config: the objective (a preset plus field overrides) and the optimisation settings, as one zod
// schema with documented defaults. The METHOD.md §3 values are the defaults, except the learning rate, which the
// spec gives for 7–8B models (5e-7) and which small models need far larger.
import { z } from "zod";
import { LoraSettings } from "../model/lora.js";
import { type ObjectiveConfig, ObjectiveFields, PRESETS } from "./objective.js";

const PRESET_NAMES = Object.keys(PRESETS) as [string, ...string[]];

export const ObjectiveSettings = z.strictObject({
  /** sso, pbaa (= w/o W,G), sso-no-w, sso-no-g, sso-backdoor, sso-dpo, sso-v2-generator, ipo, dpo. */
  preset: z.enum(PRESET_NAMES).default("sso"),
  ...overrides(ObjectiveFields.omit({ generator: true }).shape),
});
export type ObjectiveSettings = z.infer<typeof ObjectiveSettings>;

/** Each field of a shape, optional and without its default: an override that is absent leaves the preset's value. */
type Overrides<S extends z.ZodRawShape> = {
  [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer T> ? T : S[K]>;
};
function overrides<S extends z.ZodRawShape>(shape: S): Overrides<S> {
  return Object.fromEntries(
    Object.entries(shape).map(([k, f]) => [k, z.optional(f instanceof z.ZodDefault ? f.unwrap() : f)]),
  ) as Overrides<S>;
}

/** The PyTorch trainer (`trainer: "torch"`, python/sso_torch): its Python, ranks and devices; docs/SCALE.md. */
export const TorchSettings = z.strictObject({
  /** A Python ≥ 3.10 with torch ≥ 1.13 (Debian: apt-get install python3-torch). */
  python: z.string().min(1).default("python3"),
  /** Processes (ranks) on this node: one per GPU, or CPU processes with gloo. */
  nproc: z.number().int().positive().default(1),
  nnodes: z.number().int().positive().default(1),
  /** This node's index in 0..nnodes−1; every node runs the same command with its own nodeRank. */
  nodeRank: z.number().int().min(0).default(0),
  masterAddr: z.string().min(1).default("127.0.0.1"),
  /** The rendezvous port of node 0; 0 = a free port (one node only). */
  masterPort: z.number().int().min(0).max(65535).default(0),
  /** auto = CUDA (NCCL) when available, else CPU (gloo). */
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  /** FSDP instead of DDP (CUDA only, where torch.distributed.fsdp imports; unverified). */
  fsdp: z.boolean().default(false),
  gradientCheckpointing: z.boolean().default(false),
  /** auto = transformers' AutoModelForCausalLM when importable, else the built-in Llama/Qwen2 module. */
  model: z.enum(["auto", "builtin", "transformers"]).default("auto"),
  /**
   * Seconds a rank may take to join the others (init_process_group) before the launcher stops every rank with
   * one line naming it (a rank that exits early stops them at once).
   */
  startupTimeout: z.number().positive().default(120),
  /**
   * bf16 = frozen weights held in BF16, BF16 autocast for the matmuls, FP32 master weights, AdamW moments, loss and
   * log-prob sums (CUDA only); fp32 = everything FP32; auto = bf16 on CUDA, fp32 on CPU. Recorded in metrics.
   */
  precision: z.enum(["auto", "bf16", "fp32"]).default("auto"),
});
export type TorchSettings = z.infer<typeof TorchSettings>;

/** The fields of the train section (reward-model training picks from these); TrainConfig adds the cross-checks. */
export const TrainFields = z.strictObject({
  objective: ObjectiveSettings.prefault({}),
  /** Peak learning rate (cosine schedule after linear warmup). */
  lr: z.number().positive().default(5e-7),
  epochs: z.number().int().positive().default(1),
  /** Records per optimizer step. */
  batchSize: z.number().int().positive().default(16),
  /** Records per forward/backward pass (gradients accumulate over batchSize / microBatch passes). */
  microBatch: z.number().int().positive().default(4),
  /** Compute each record's shared prompts (x, x+, x-) once per pass, not once per response (ts trainer; same
   *  log-probs, gradients equal up to float summation order). */
  sharePrefixes: z.boolean().default(true),
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
  /**
   * Train a LoRA adapter instead of the weights (src/model/lora.ts): { r, alpha, targets, rslora }. The base stays
   * frozen; OUT/adapter is a PEFT folder. Absent = full fine-tuning.
   */
  lora: LoraSettings.optional(),
  /** Parameter-name globs that are not trained, e.g. "model.embed_tokens.*". */
  freeze: z.array(z.string()).default([]),
  /**
   * Activation recomputation: forward keeps only each layer's input and backward recomputes one layer at a time
   * (about one extra forward per step) — far less activation memory for long sequences; the same results. With
   * trainer torch it turns on torch.gradientCheckpointing.
   */
  recompute: z.boolean().default(false),
  /** Weight dtype of saved model folders. */
  saveDtype: z.enum(["F32", "BF16"]).default("F32"),
  /** ts = our engine in this process; torch = PyTorch ranks (python/sso_torch), same math and outputs. */
  trainer: z.enum(["ts", "torch"]).default("ts"),
  torch: TorchSettings.prefault({}),
});

export const TrainConfig = TrainFields;
export type TrainConfig = z.infer<typeof TrainConfig>;

/** The preset with the config's overrides applied. */
export function objectiveConfig(s: ObjectiveSettings): ObjectiveConfig {
  const { preset, ...overrides } = s;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...PRESETS[preset], ...defined };
}
