// LoRA (Hu et al. 2021, as PEFT implements it): a frozen Linear W (out, in) gains y += s·(x·Aᵀ)·Bᵀ with A (r, in),
// B (out, r) and s = alpha/r (alpha/√r with rsLoRA). The adapter tensors live in the model's parameter map under
// PEFT's module paths without the "base_model.model." wrapper prefix (peft.ts adds it on disk), e.g.
// `model.layers.3.self_attn.q_proj.lora_A.weight`, so the trainer's freeze/newGrads/AdamW/checkpoint machinery
// treats them like any other parameter. The base weights are frozen while an adapter trains.
// Here: seeded initialisation, the tensor checks, attach and merge; the settings and the math (forward/backward on
// the Backend kernels) are lora-math.ts, which the layer code imports without importing the model.
import { Rng } from "../tensor/rng.js";
import type { ModelConfig } from "./config.js";
import { LORA_MODULES, type LoraModule, type LoraSettings, loraName, loraScale, MODULE_NAMES } from "./lora-math.js";
import type { Model } from "./model.js";
import { layerConfig, type Params, paramSpecs } from "./params.js";

export {
  type AttachedLora,
  LORA_MODULE_NAMES,
  LORA_MODULES,
  type LoraKey,
  type LoraModule,
  LoraSettings,
  loraName,
  loraScale,
} from "./lora-math.js";

/** (out, in) of a targetable module. */
export function moduleShape(c: ModelConfig, m: LoraModule): [number, number] {
  const lc = layerConfig(c),
    qd = lc.NH * lc.HS,
    kvd = lc.NKV * lc.HS;
  const shapes: Record<LoraModule, [number, number]> = {
    q_proj: [qd, lc.C],
    k_proj: [kvd, lc.C],
    v_proj: [kvd, lc.C],
    o_proj: [lc.C, qd],
    gate_proj: [lc.FF, lc.C],
    up_proj: [lc.FF, lc.C],
    down_proj: [lc.C, lc.FF],
  };
  return shapes[m];
}

/**
 * Fresh adapter tensors as PEFT initialises them (init_lora_weights=True): A ~ kaiming_uniform_(a=√5), which for a
 * (r, in) weight is U(−1/√in, 1/√in), and B = 0, so the adapted model starts equal to the base. Seeded.
 */
export function initLora(c: ModelConfig, s: LoraSettings, seed: number): Params {
  const rng = new Rng(seed),
    out: Params = new Map();
  for (let l = 0; l < c.numLayers; l++) {
    for (const m of s.targets) {
      const [o, i] = moduleShape(c, m),
        bound = 1 / Math.sqrt(i),
        a = new Float32Array(s.r * i);
      for (let k = 0; k < a.length; k++) a[k] = (2 * rng.uniform() - 1) * bound;
      out.set(loraName(l, m, "A"), a);
      out.set(loraName(l, m, "B"), new Float32Array(o * s.r));
    }
  }
  return out;
}

/** Checks adapter tensors against the model (every targeted module of every layer, shapes); one line per problem. */
export function checkLoraTensors(c: ModelConfig, s: LoraSettings, tensors: Params, source: string): void {
  const expected = new Set<string>();
  for (let l = 0; l < c.numLayers; l++) {
    for (const m of s.targets) {
      const [o, i] = moduleShape(c, m);
      for (const [ab, shape] of [
        ["A", [s.r, i]],
        ["B", [o, s.r]],
      ] as const) {
        const name = loraName(l, m, ab),
          t = tensors.get(name);
        expected.add(name);
        if (!t) throw new Error(`${source}: missing adapter tensor ${name} (shape [${shape}])`);
        if (t.length !== shape[0] * shape[1])
          throw new Error(
            `${source}: adapter tensor ${name} has ${t.length} values, the base model implies [${shape}]`,
          );
      }
    }
  }
  for (const name of tensors.keys())
    if (!expected.has(name)) throw new Error(`${source}: unexpected adapter tensor ${name} for this base model`);
}

/**
 * Puts adapter tensors into the model (it then computes W·x + s·B·A·x in every targeted module). Targets and
 * tensors take one canonical order (layer, then LORA_MODULES' order, A before B) whatever order they came in, so
 * that a fresh adapter and the same one read back iterate (and sum gradient norms) identically.
 */
export function attachLora(model: Model, s: LoraSettings, tensors: Params, source: string): void {
  if (model.lora) throw new Error(`${source}: the model already has an adapter`);
  checkLoraTensors(model.config, s, tensors, source);
  const targets = canonicalTargets(s.targets),
    names: string[] = [];
  for (let l = 0; l < model.config.numLayers; l++)
    for (const m of targets) for (const ab of ["A", "B"] as const) names.push(loraName(l, m, ab));
  for (const name of names) model.params.set(name, tensors.get(name)!);
  model.lora = { settings: { ...s, targets }, scale: loraScale(s), names };
}

/** Targets in LORA_MODULES' order (q, k, v, o, gate, up, down), without repeats. */
export const canonicalTargets = (ts: readonly LoraModule[]): LoraModule[] => MODULE_NAMES.filter((m) => ts.includes(m));

/** Whether two settings describe the same adapter (targets in any order). */
export const sameLora = (a: LoraSettings, b: LoraSettings): boolean =>
  a.r === b.r &&
  a.alpha === b.alpha &&
  a.rslora === b.rslora &&
  MODULE_NAMES.every((m) => a.targets.includes(m) === b.targets.includes(m));

/** The adapter tensors of an attached adapter (views of model.params). */
export function loraTensors(model: Model): Params {
  if (!model.lora) throw new Error("the model has no adapter");
  return new Map(model.lora.names.map((n) => [n, model.params.get(n)!]));
}

/** Names of the base model's parameters: what is frozen while an adapter trains. */
export const baseParamNames = (c: ModelConfig): string[] => paramSpecs(c).map((s) => s.name);

/**
 * Folds the adapter into the base weights, W += s·B·A (PEFT's merge_and_unload: get_delta_weight = B @ A · scaling),
 * and removes it from the model, which is then a plain model again.
 */
export function mergeLora(model: Model): void {
  const lora = model.lora;
  if (!lora) throw new Error("merge: the model has no adapter");
  const be = model.backend,
    c = model.config;
  for (let l = 0; l < c.numLayers; l++) {
    for (const m of lora.settings.targets) {
      const [o, i] = moduleShape(c, m),
        a = model.params.get(loraName(l, m, "A"))!,
        b = model.params.get(loraName(l, m, "B"))!,
        name = `model.layers.${l}.${LORA_MODULES[m].path}.weight`,
        w = model.params.get(name),
        delta = new Float32Array(o * i);
      if (!w) throw new Error(`merge: ${name} is held 16-bit (frozen); load the base without keep16 to merge into it`);
      be.matmul(delta, b, a, o, i, lora.settings.r, {});
      be.scale(delta, lora.scale, o * i);
      be.add(w, w, delta, o * i);
    }
  }
  for (const n of lora.names) model.params.delete(n);
  model.lora = undefined;
}
