// Hugging Face model folders in and out: config.json + safetensors weights (+ tokenizer and generation files,
// carried along unchanged). Loading checks every tensor against the config; saving writes a whole new folder
// atomically, in F32 or BF16, that transformers and vLLM load as they would their own. For inference, a BF16/F16
// folder's matrices (projections, embedding, LM head) can stay 16-bit: half the memory, the same results.
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../backends/backend.js";
import { type Half, isHalf, type Weight, widenWeight } from "../tensor/dtype.js";
import { cleanAtomicLeftovers, writeDirAtomic, writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/files.js";
import { checkReplaceable } from "../util/output-path.js";
import { type ModelConfig, parseConfig } from "./config.js";
import { attachLora } from "./lora.js";
import { Model } from "./model.js";
import { checkTensors, initParams, type Params, paramSpecs } from "./params.js";
import { readAdapter } from "./peft.js";
import { loadModelTensors, modelTensorDtypes, type Tensor, writeShardedSafetensors } from "./safetensors.js";

/** The tokenizer and generation files a saved model folder carries over from its source folder. */
export const CARRIED_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
  "vocab.json",
  "merges.txt",
  "tokenizer.model",
  "added_tokens.json",
];

/** Whether an entry of a model folder is one saveModel writes there (config, weights, carried files): a folder of
 *  only these is one this tool may replace without --force (src/util/output-path.ts). */
export const isModelFolderEntry = (name: string): boolean =>
  name === "config.json" ||
  /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/.test(name) ||
  CARRIED_FILES.includes(name);

/** Hugging Face's default shard size for save_pretrained. */
const MAX_SHARD_BYTES = 5 * 1024 ** 3;

export function readConfig(dir: string): ModelConfig {
  const path = join(dir, "config.json");
  return parseConfig(readJson(path), path);
}

export interface LoadOptions {
  /** A PEFT LoRA adapter folder to attach (checked against the config before the weights load). */
  adapter?: string;
  /** Keep the matrices (2-D tensors) of a BF16/F16 folder 16-bit, frozen: for inference and reference models, never
   *  for a model that trains them. Vectors (norms, biases) and F32 tensors are fp32 either way. */
  keep16?: boolean;
}

/** Whether loadModel with keep16 holds this folder's matrices 16-bit: every 2-D tensor is stored BF16 or F16
 *  (reads only the safetensors headers; a folder without weights yet — config.json alone, for an estimate — goes by
 *  its torch_dtype). What the memory estimate counts at 2 bytes per frozen weight. */
export function keeps16(dir: string): boolean {
  if (!existsSync(join(dir, "model.safetensors")) && !existsSync(join(dir, "model.safetensors.index.json")))
    return ["bfloat16", "float16"].includes(String(readConfig(dir).raw.torch_dtype));
  const matrices = modelTensorDtypes(dir).filter((t) => t.shape.length === 2);
  return matrices.length > 0 && matrices.every((t) => t.dtype !== "F32");
}

/** Loads a model folder onto a backend, with a PEFT LoRA adapter attached when `adapter` is given. */
export function loadModel(dir: string, backend: Backend, opts: LoadOptions = {}): Model {
  const config = readConfig(dir);
  const adapter = opts.adapter === undefined ? undefined : readAdapter(opts.adapter, config);
  const params: Params = new Map(),
    halves = new Map<string, Half>();
  const tensors: Map<string, Tensor<Weight>> = opts.keep16
    ? loadModelTensors(dir, (_, shape) => shape.length === 2)
    : loadModelTensors(dir);
  for (const [name, w] of checkTensors(config, tensors, dir)) {
    if (isHalf(w)) halves.set(name, w);
    else params.set(name, w);
  }
  const model = new Model(config, params, backend, halves);
  if (adapter && opts.adapter) attachLora(model, adapter.settings, adapter.tensors, opts.adapter);
  return model;
}

/** A freshly initialised model for a config (seeded, Hugging Face's initialisation). */
export function initModel(config: ModelConfig, seed: number, backend: Backend): Model {
  return new Model(config, initParams(config, seed), backend);
}

export interface SaveOptions {
  dtype: "F32" | "BF16";
  /** A folder whose tokenizer/generation files are copied into the saved one (usually the folder loaded from). */
  carryFrom?: string;
  /** Replace an existing folder at dir even when it holds files a model folder does not (--force). */
  force?: boolean;
}

/** The config.json a saved folder holds: the one read, with torch_dtype saying the weights' dtype. */
export function savedConfigText(config: ModelConfig, dtype: SaveOptions["dtype"]): string {
  return `${JSON.stringify({ ...config.raw, torch_dtype: dtype === "BF16" ? "bfloat16" : "float32" }, null, 2)}\n`;
}

/**
 * Saves the model as a Hugging Face folder, replacing dir atomically (and removing what a killed earlier save left).
 * An existing dir that holds other files than a model folder's is refused unless opts.force.
 */
export function saveModel(model: Model, dir: string, opts: SaveOptions): void {
  if (model.lora)
    throw new Error(`${dir}: the model has a LoRA adapter; merge it (mergeLora) or save the adapter (writeAdapter)`);
  checkReplaceable(dir, dir, { owned: isModelFolderEntry, force: opts.force, what: "model folder" });
  cleanAtomicLeftovers(dir);
  const tensors = paramSpecs(model.config).map((s) => ({
    name: s.name,
    shape: s.shape,
    data: widenWeight(model.weight(s.name)!), // a 16-bit matrix is widened (exact)
  }));
  writeDirAtomic(dir, (tmp) => {
    writeFileAtomic(join(tmp, "config.json"), savedConfigText(model.config, opts.dtype));
    writeShardedSafetensors(tmp, tensors, { dtype: opts.dtype, maxShardBytes: MAX_SHARD_BYTES });
    if (opts.carryFrom) {
      for (const f of CARRIED_FILES)
        if (existsSync(join(opts.carryFrom, f))) copyFileSync(join(opts.carryFrom, f), join(tmp, f));
    }
  });
}
