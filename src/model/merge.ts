// Folding a PEFT LoRA adapter into its base model: the library function behind `sso merge` (a full Hugging Face
// folder out), `sso export --gguf --adapter` and `sso iterate` with train.lora (each iteration's merged policy).
import { getBackend } from "../backends/index.js";
import { loadModel, saveModel } from "./folder.js";
import { mergeLora } from "./lora.js";
import type { Model } from "./model.js";

/** The base model with the adapter folded in (W += s·B·A), a plain model again. The base loads fp32 — a BF16/F16
 *  folder widened, exactly — since the merge writes into its matrices (mergeLora refuses matrices held 16-bit). */
export function loadMerged(model: string, adapter: string, backend: string): Model {
  const m = loadModel(model, getBackend(backend), { adapter });
  mergeLora(m);
  return m;
}

export interface MergeRun {
  /** Base model folder (its tokenizer and generation files are carried over). */
  model: string;
  /** PEFT LoRA adapter folder. */
  adapter: string;
  /** Model folder to write, replaced atomically. */
  out: string;
  dtype: "F32" | "BF16";
  backend: string;
  /** Replace an existing --out whatever it holds (else only a model folder is replaced). */
  force?: boolean;
}

/** Writes model + adapter as one Hugging Face folder. */
export function mergeAdapter(run: MergeRun): void {
  saveModel(loadMerged(run.model, run.adapter, run.backend), run.out, {
    dtype: run.dtype,
    carryFrom: run.model,
    force: run.force,
  });
}
