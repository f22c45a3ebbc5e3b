// Which modules an adapter_config.json's target_modules selects, by PEFT's own matching rules, for a Llama/Mistral/
// Qwen2 *ForCausalLM. Checked against PEFT's source (huggingface/peft):
// - tuners/tuners_utils.py, check_target_module_exists: a string is a regex that must match a module's whole name
//   (utils/other.py, match_target_against_key: re.fullmatch); a list matches a module whose name equals an entry or
//   ends with "." + an entry; `inject_adapter` tries every name of model.named_modules().
// - _maybe_include_all_linear_layers: "all-linear" (any case) is every Linear but the output embedding (lm_head).
// - tuners/lora/model.py, _prepare_adapter_config: a missing/null target_modules takes the architecture's default,
//   utils/constants.py TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING: ["q_proj", "v_proj"] for llama, mistral
//   and qwen2.
// PEFT itself applies exactly the matched modules and ignores a tensor for any other (an "unexpected key" of
// load_state_dict(strict=False)), warns about matched modules without tensors, and ignores a list entry that matches
// nothing as long as another one matches. We refuse all three (peft.ts), and whatever we cannot apply exactly: a
// match that is not one of the seven attention/MLP Linears (lm_head, embed_tokens, a whole attention block) and a
// module adapted in some layers only. Not here: reading the file, the tensors.
import type { ModelConfig } from "./config.js";
import { LORA_MODULE_NAMES, LORA_MODULES, type LoraModule } from "./lora.js";

/** PEFT's default target_modules for our three architectures (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const PEFT_DEFAULT_TARGETS: readonly LoraModule[] = ["q_proj", "v_proj"];

/** Names of model.named_modules() of a transformers Llama/Mistral/Qwen2 *ForCausalLM, the root ("") left out. */
export function hfModuleNames(c: ModelConfig): string[] {
  const out = ["model", "model.embed_tokens", "model.layers"];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`;
    out.push(p, `${p}.self_attn`);
    for (const m of ["q_proj", "k_proj", "v_proj", "o_proj"] as const) out.push(`${p}.${LORA_MODULES[m].path}`);
    out.push(`${p}.mlp`);
    for (const m of ["gate_proj", "up_proj", "down_proj"] as const) out.push(`${p}.${LORA_MODULES[m].path}`);
    out.push(`${p}.mlp.act_fn`, `${p}.input_layernorm`, `${p}.post_attention_layernorm`);
  }
  out.push("model.norm", "model.rotary_emb", "lm_head");
  return out;
}

/** Layer and module of a per-layer LoRA-able Linear's name, e.g. model.layers.3.mlp.up_proj → [3, "up_proj"]. */
function linearOf(name: string): [number, LoraModule] | undefined {
  const m = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)$/.exec(name);
  if (!m || !(m[3] in LORA_MODULES) || LORA_MODULES[m[3] as LoraModule].path !== `${m[2]}.${m[3]}`) return undefined;
  return [Number(m[1]), m[3] as LoraModule];
}

/**
 * The modules target_modules (as read from cfgPath) selects on a base with config c, in LORA_MODULES' order; one
 * line naming cfgPath and the entry for anything PEFT would not match, or that we cannot apply exactly.
 */
export function resolveTargetModules(listed: unknown, c: ModelConfig, cfgPath: string): LoraModule[] {
  const names = hfModuleNames(c);
  let matches: { entry: string; name: string }[];
  if (listed === undefined || listed === null) {
    matches = names.flatMap((name) =>
      PEFT_DEFAULT_TARGETS.filter((t) => name.endsWith(`.${t}`)).map((entry) => ({ entry, name })),
    );
  } else if (typeof listed === "string") {
    if (listed.toLowerCase() === "all-linear") {
      matches = names.filter((n) => linearOf(n)).map((name) => ({ entry: listed, name }));
    } else {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${listed})$`); // Python's re.fullmatch; a pattern JavaScript cannot read is refused
      } catch {
        throw new Error(`${cfgPath}: target_modules ${JSON.stringify(listed)} is not a regular expression we can read`);
      }
      matches = names.filter((n) => re.test(n)).map((name) => ({ entry: listed, name }));
      if (matches.length === 0)
        throw new Error(`${cfgPath}: target_modules ${JSON.stringify(listed)} matches no module of the base model`);
    }
  } else if (Array.isArray(listed) && listed.length > 0 && listed.every((t) => typeof t === "string")) {
    matches = [];
    for (const entry of listed as string[]) {
      const got = names.filter((n) => n === entry || n.endsWith(`.${entry}`));
      if (got.length === 0)
        throw new Error(
          `${cfgPath}: target_modules lists ${JSON.stringify(entry)}, which names no module of a ${c.modelType} model (${LORA_MODULE_NAMES.join(", ")} can be adapted)`,
        );
      for (const name of got) matches.push({ entry, name });
    }
  } else {
    throw new Error(
      `${cfgPath}: target_modules must be a non-empty list of module names or a regular expression, got ${JSON.stringify(listed)}`,
    );
  }
  const layers = new Map<LoraModule, Set<number>>();
  for (const { entry, name } of matches) {
    const lm = linearOf(name);
    if (!lm)
      throw new Error(
        `${cfgPath}: target_modules ${JSON.stringify(entry)} selects ${name}, which is not one of the attention/MLP Linears we can adapt (${LORA_MODULE_NAMES.join(", ")})`,
      );
    if (!layers.has(lm[1])) layers.set(lm[1], new Set());
    layers.get(lm[1])!.add(lm[0]);
  }
  for (const [m, ls] of layers)
    if (ls.size !== c.numLayers) {
      const missing = [...Array(c.numLayers).keys()].find((l) => !ls.has(l))!;
      throw new Error(
        `${cfgPath}: target_modules selects ${m} in some layers only (not in layer ${missing}): adapters on some layers only are not supported`,
      );
    }
  return LORA_MODULE_NAMES.filter((m) => layers.has(m));
}
