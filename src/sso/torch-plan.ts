// The contract between the torch trainer's two halves: OUT/torch/plan.json, declared once here (zod) and written as
// JSON Schema to python/sso_torch/plan.schema.json, which python/sso_torch/plan.py checks every plan against on
// load (an unknown or missing key is one line naming it). A test keeps the committed schema equal to
// planJsonSchema(); regenerate it with `node dist/tools/torch-plan-schema.js` after changing TorchPlan, and bump
// PLAN_VERSION when a field changes meaning. The step metrics come back by name (python/sso_torch/train.py).
import { z } from "zod";
import { LORA_MODULE_NAMES, type LoraModule } from "../model/lora.js";
import { ObjectiveFields } from "./objective.js";
import { PAIR_NAMES } from "./pairs.js";
import { TorchSettings } from "./train-config.js";

/** Bumped whenever a plan field is added, removed or changes meaning (Python refuses another version). */
export const PLAN_VERSION = 2;

/** The resolved objective: its fields are declared once, in objective.ts. */
const Objective = ObjectiveFields;

/** The adapter the ranks train (train.lora), or null for full fine-tuning. */
const LoraPlan = z.strictObject({
  r: z.number().int().positive(),
  alpha: z.number().positive(),
  targets: z.array(z.enum(LORA_MODULE_NAMES as [LoraModule, ...LoraModule[]])),
  rslora: z.boolean(),
  /** The adapter_model.safetensors (PEFT keys) to start from: TypeScript's fresh one, or the checkpoint's. */
  init: z.string(),
  /** adapter_config.json exactly as src/model/peft.ts writes it (text), for the checkpoint and OUT/adapter. */
  configText: z.string(),
});

export const TorchPlan = z.strictObject({
  version: z.literal(PLAN_VERSION),
  /** OUT and OUT/torch (the shard, this plan, the ranks' logs). */
  out: z.string(),
  dir: z.string(),
  /** The model folder the weights come from (with LoRA always the frozen base). */
  init: z.string(),
  tied: z.boolean(),
  /** config.json texts of the checkpoint's (F32) and the final (saveDtype) model folders. */
  configF32: z.string(),
  configFinal: z.string(),
  saveDtype: z.enum(["F32", "BF16"]),
  /** Tokenizer files copied into every saved model folder. */
  carry: z.array(z.string()),
  objective: Objective,
  pairs: z.array(z.enum(PAIR_NAMES as [string, ...string[]])),
  optim: z.strictObject({
    beta1: z.number(),
    beta2: z.number(),
    eps: z.number(),
    weightDecay: z.number(),
    maxGradNorm: z.number(),
  }),
  microBatch: z.number().int().positive(),
  /** Per step (1-based step − 1): the record indices of its batch, and its learning rate. */
  steps: z.array(z.array(z.number().int().min(0))),
  lrs: z.array(z.number()),
  stepsPerEpoch: z.number().int().positive(),
  total: z.number().int().positive(),
  /** The step to resume after (0 = a fresh run). */
  start: z.number().int().min(0),
  saveEvery: z.number().int().min(0),
  fingerprint: z.string(),
  /** Parameter names that train (full fine-tuning); with LoRA the adapters train instead. */
  trainable: z.array(z.string()),
  threads: z.number().int().positive(),
  lora: LoraPlan.nullable(),
  torch: TorchSettings,
});
export type TorchPlan = z.infer<typeof TorchPlan>;

/** The JSON Schema python/sso_torch/plan.py checks plans against (committed as plan.schema.json). */
export function planJsonSchema(): string {
  return `${JSON.stringify(z.toJSONSchema(TorchPlan, { io: "output" }), null, 2)}\n`;
}
