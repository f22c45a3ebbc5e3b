// LoRA adapter folders in PEFT's format, so that PEFT (PeftModel.from_pretrained), transformers and vLLM load what we
// write and we load what they write: adapter_config.json + adapter_model.safetensors.
//
// Checked against PEFT's source (huggingface/peft):
// - utils/save_and_load.py, get_peft_model_state_dict: for LoRA with bias "none" it keeps the keys containing
//   "lora_" and then removes the adapter name: `…q_proj.lora_A.default.weight` → `…q_proj.lora_A.weight`. The keys
//   are those of the PeftModel's state_dict, whose `base_model` is the LoraModel wrapping the transformers model as
//   `.model`, hence `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` for a *ForCausalLM
//   (the same prefix "base_model.model." the file's TP code lists among possible_prefixes).
// - tuners/lora/layer.py: lora_A is nn.Linear(in, r) → weight (r, in); lora_B nn.Linear(r, out) → weight (out, r);
//   scaling = lora_alpha / r, or lora_alpha / √r with use_rslora; default init kaiming_uniform_(A, a=√5), B = 0;
//   get_delta_weight = B @ A · scaling (transposed only with fan_in_fan_out, which Linear layers do not use).
// - LoraConfig fields (tuners/lora/config.py) for adapter_config.json; unknown options we cannot honour are refused.
// - target_modules selects the adapted modules by PEFT's matching rules (peft-targets.ts); the tensors must be
//   exactly those modules' (PEFT would ignore the others and warn about missing ones; we refuse both).
// Not read: adapter_model.bin (PyTorch pickles) — convert it to safetensors first.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanAtomicLeftovers, writeDirAtomic, writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/files.js";
import { checkReplaceable } from "../util/output-path.js";
import type { ModelConfig } from "./config.js";
import {
  checkLoraTensors,
  LORA_MODULES,
  type LoraModule,
  LoraSettings,
  loraName,
  loraTensors,
  moduleShape,
} from "./lora.js";
import type { Model } from "./model.js";
import type { Params } from "./params.js";
import { resolveTargetModules } from "./peft-targets.js";
import { readSafetensors, writeSafetensors } from "./safetensors.js";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
/** Whether an entry of an adapter folder is one writeAdapter writes there. */
export const isAdapterFolderEntry = (name: string): boolean => name === ADAPTER_CONFIG || name === ADAPTER_WEIGHTS;
/** PeftModel → LoraModel → the transformers model: the prefix of every key in adapter_model.safetensors. */
export const PEFT_PREFIX = "base_model.model.";

/** A LoRA adapter as read from (or written to) a PEFT folder. */
export interface Adapter {
  settings: LoraSettings;
  /** Tensors under our parameter names (PEFT's keys without PEFT_PREFIX), fp32. */
  tensors: Params;
  /** base_model_name_or_path of the config (informational). */
  baseModel: string | null;
}

/** adapter_config.json as PEFT's LoraConfig writes it, for our settings. */
export function adapterConfigJson(s: LoraSettings, baseModel: string): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    revision: null,
    inference_mode: true,
    r: s.r,
    lora_alpha: s.alpha,
    lora_dropout: 0,
    target_modules: [...s.targets].sort(),
    use_rslora: s.rslora,
    use_dora: false,
    bias: "none",
    fan_in_fan_out: false,
    modules_to_save: null,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
}

/** Writes the model's attached adapter as a PEFT folder, replacing dir atomically. */
export function writeAdapter(dir: string, model: Model, opts: { baseModel: string; dtype?: "F32" | "BF16" }): void {
  const lora = model.lora;
  if (!lora) throw new Error(`${dir}: the model has no adapter to save`);
  const tensors = [...loraTensors(model)].map(([name, data]) => ({
    name: PEFT_PREFIX + name,
    shape: shapeOf(model.config, lora.settings.r, name),
    data,
  }));
  // An existing folder is replaced only when it is an adapter folder (its two files and nothing else).
  checkReplaceable(dir, dir, { owned: isAdapterFolderEntry, what: "PEFT adapter folder" });
  cleanAtomicLeftovers(dir);
  writeDirAtomic(dir, (tmp) => {
    writeFileAtomic(
      join(tmp, ADAPTER_CONFIG),
      `${JSON.stringify(adapterConfigJson(lora.settings, opts.baseModel), null, 2)}\n`,
    );
    writeSafetensors(join(tmp, ADAPTER_WEIGHTS), tensors, { dtype: opts.dtype ?? "F32" });
  });
}

const KEY = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$/;

/** The [r, in] / [out, r] shape of an adapter tensor named by our parameter name. */
function shapeOf(c: ModelConfig, r: number, name: string): number[] {
  const m = KEY.exec(name);
  const mod = m?.[3] as LoraModule | undefined;
  if (!m || !mod || !(mod in LORA_MODULES) || LORA_MODULES[mod].path !== `${m[2]}.${mod}`)
    throw new Error(`not a LoRA tensor of a Llama/Qwen2 Linear: ${name}`);
  const [o, i] = moduleShape(c, mod);
  return m[4] === "A" ? [r, i] : [o, r];
}

/** Identifies an adapter folder's contents (its config and weights), for resumable outputs' fingerprints. */
export function adapterHash(dir: string): string {
  const h = createHash("sha256");
  for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) {
    const path = join(dir, f);
    if (!existsSync(path)) throw new Error(`${dir}: not a PEFT adapter folder (no ${f})`);
    h.update(`${f}\0`).update(readFileSync(path));
  }
  return h.digest("hex");
}

/** Options of PEFT's LoraConfig that change the math; anything but their neutral value is refused. */
const NEUTRAL: [key: string, ok: (v: unknown) => boolean, what: string][] = [
  ["use_dora", (v) => v === undefined || v === false, "DoRA is not supported"],
  ["bias", (v) => v === undefined || v === "none", 'only bias "none" is supported'],
  ["fan_in_fan_out", (v) => v === undefined || v === false, "fan_in_fan_out is for Conv1D layers, not Llama/Qwen2"],
  [
    "modules_to_save",
    (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0),
    "modules_to_save is not supported",
  ],
  ["rank_pattern", (v) => isEmpty(v), "per-module ranks (rank_pattern) are not supported"],
  ["alpha_pattern", (v) => isEmpty(v), "per-module alphas (alpha_pattern) are not supported"],
  ["lora_bias", (v) => v === undefined || v === false, "lora_bias is not supported"],
  ["layers_to_transform", (v) => v === undefined || v === null, "adapters on some layers only are not supported"],
  ["layer_replication", (v) => v === undefined || v === null, "layer_replication is not supported"],
  ["use_qalora", (v) => v === undefined || v === false, "QA-LoRA is not supported"],
  ["trainable_token_indices", (v) => v === undefined || v === null, "trainable_token_indices is not supported"],
  ["alora_invocation_tokens", (v) => v === undefined || v === null, "activated LoRA (aLoRA) is not supported"],
  [
    "exclude_modules",
    (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0),
    "exclude_modules is not supported",
  ],
  [
    "target_parameters",
    (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0),
    "target_parameters is not supported",
  ],
  [
    "init_lora_weights",
    (v) => !(typeof v === "string" && /^(pissa|olora|corda|loftq)/i.test(v)),
    "this initialisation changes the base weights; save the adapter with PEFT's path_initial_model_for_weight_conversion",
  ],
];
const isEmpty = (v: unknown) =>
  v === undefined || v === null || (typeof v === "object" && Object.keys(v as object).length === 0);

/** Reads a PEFT LoRA folder for a base model with config c; every problem is one line naming the file and key. */
export function readAdapter(dir: string, c: ModelConfig): Adapter {
  const cfgPath = join(dir, ADAPTER_CONFIG),
    wPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(cfgPath)) throw new Error(`${dir}: not a PEFT adapter folder (no ${ADAPTER_CONFIG})`);
  const raw = readJson(cfgPath) as Record<string, unknown>;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`${cfgPath}: not a JSON object`);
  if (raw.peft_type !== "LORA")
    throw new Error(`${cfgPath}: peft_type is ${JSON.stringify(raw.peft_type)}, only "LORA" is supported`);
  if (raw.task_type !== undefined && raw.task_type !== null && raw.task_type !== "CAUSAL_LM")
    throw new Error(`${cfgPath}: task_type is ${JSON.stringify(raw.task_type)}, only "CAUSAL_LM" is supported`);
  for (const [key, ok, what] of NEUTRAL)
    if (!ok(raw[key])) throw new Error(`${cfgPath}: ${key} = ${JSON.stringify(raw[key])}: ${what}`);
  const r = raw.r,
    alpha = raw.lora_alpha ?? 8; // PEFT's default lora_alpha
  if (!Number.isInteger(r) || (r as number) < 1)
    throw new Error(`${cfgPath}: r must be an integer ≥ 1, got ${JSON.stringify(r)}`);
  if (typeof alpha !== "number" || !(alpha > 0))
    throw new Error(`${cfgPath}: lora_alpha must be a number > 0, got ${JSON.stringify(alpha)}`);
  const rslora = raw.use_rslora ?? false;
  if (typeof rslora !== "boolean") throw new Error(`${cfgPath}: use_rslora must be true or false`);

  if (!existsSync(wPath)) {
    const bin = existsSync(join(dir, "adapter_model.bin"));
    throw new Error(
      `${dir}: no ${ADAPTER_WEIGHTS}${bin ? " (adapter_model.bin is not read: save it with safetensors)" : ""}`,
    );
  }
  // PEFT adapts exactly the modules target_modules selects (peft-targets.ts); the tensors must be those modules'.
  const targets = resolveTargetModules(raw.target_modules, c, cfgPath);
  const tensors: Params = new Map(),
    modules = new Set<LoraModule>();
  for (const [key, t] of readSafetensors(wPath)) {
    if (!key.startsWith(PEFT_PREFIX)) throw new Error(`${wPath}: tensor ${key} does not start with "${PEFT_PREFIX}"`);
    const name = key.slice(PEFT_PREFIX.length),
      m = KEY.exec(name);
    if (!m || !(m[3] in LORA_MODULES) || LORA_MODULES[m[3] as LoraModule].path !== `${m[2]}.${m[3]}`)
      throw new Error(`${wPath}: tensor ${key} is not a LoRA matrix of a Llama/Qwen2 attention or MLP Linear`);
    if (!targets.includes(m[3] as LoraModule))
      throw new Error(
        `${wPath}: tensor ${key} adapts ${m[3]}, which target_modules in ${ADAPTER_CONFIG} does not select (it selects ${targets.join(", ")})`,
      );
    if (Number(m[1]) >= c.numLayers)
      throw new Error(`${wPath}: tensor ${key} is for layer ${m[1]}, the base model has ${c.numLayers} layers`);
    const want = shapeOf(c, r as number, name);
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1])
      throw new Error(`${wPath}: tensor ${key} has shape [${t.shape}], the base model and r = ${r} imply [${want}]`);
    modules.add(m[3] as LoraModule);
    tensors.set(name, t.data);
  }
  // A selected module without tensors would be a half-saved adapter (PEFT only warns and keeps B = 0).
  for (const t of targets)
    if (!modules.has(t))
      throw new Error(
        `${cfgPath}: target_modules selects ${t} but ${ADAPTER_WEIGHTS} has no ${PEFT_PREFIX}${loraName(0, t, "A")}`,
      );
  const settings = LoraSettings.parse({ r, alpha, rslora, targets });
  checkLoraTensors(c, settings, tensors, wPath); // every layer has every module's A and B
  const base = raw.base_model_name_or_path;
  return { settings, tensors, baseModel: typeof base === "string" ? base : null };
}
