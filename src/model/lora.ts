// LoRA (Hu et al. 2021, as PEFT implements it): a frozen Linear W (out, in) gains y += s·(x·Aᵀ)·Bᵀ with A (r, in),
// B (out, r) and s = alpha/r (alpha/√r with rsLoRA). The adapter tensors live in the model's parameter map under
// PEFT's module paths without the "base_model.model." wrapper prefix (peft.ts adds it on disk), e.g.
// `model.layers.3.self_attn.q_proj.lora_A.weight`, so the trainer's freeze/newGrads/AdamW/checkpoint machinery
// treats them like any other parameter. The base weights are frozen while an adapter trains.
// Here: the settings, the math (forward/backward on the Backend kernels), seeded initialisation, attach and merge.
import { z } from "zod";
import type { Backend } from "../backends/backend.js";
import { Rng } from "../tensor/rng.js";
import type { ModelConfig } from "./config.js";
import type { Alloc, LayerWeights } from "./layer.js";
import type { Model } from "./model.js";
import { layerConfig, type Params, paramSpecs } from "./params.js";

/** The Linear modules of a Llama/Qwen2 layer that LoRA can target, by their Hugging Face module names. */
export const LORA_MODULES = {
  q_proj: { path: "self_attn.q_proj", key: "wq" },
  k_proj: { path: "self_attn.k_proj", key: "wk" },
  v_proj: { path: "self_attn.v_proj", key: "wv" },
  o_proj: { path: "self_attn.o_proj", key: "wo" },
  gate_proj: { path: "mlp.gate_proj", key: "wGate" },
  up_proj: { path: "mlp.up_proj", key: "wUp" },
  down_proj: { path: "mlp.down_proj", key: "wDown" },
} as const satisfies Record<string, { path: string; key: keyof LayerWeights }>;
export type LoraModule = keyof typeof LORA_MODULES;
export type LoraKey = (typeof LORA_MODULES)[LoraModule]["key"];
const MODULE_NAMES = Object.keys(LORA_MODULES) as [LoraModule, ...LoraModule[]];
/** Every targetable module, in LORA_MODULES' order (train.lora's default targets). */
export const LORA_MODULE_NAMES: readonly LoraModule[] = MODULE_NAMES;

/** `train.lora`: rank, alpha, targeted modules (default: every attention and MLP Linear), rank-stabilised scaling. */
export const LoraSettings = z.strictObject({
  r: z.number().int().positive(),
  alpha: z.number().positive(),
  targets: z
    .array(z.enum(MODULE_NAMES))
    .min(1)
    .default([...MODULE_NAMES]),
  rslora: z.boolean().default(false),
  /** Not implemented: only 0 is accepted (PEFT's lora_dropout). */
  dropout: z.literal(0, { error: "lora.dropout > 0 is not implemented (only 0)" }).default(0),
});
export type LoraSettings = z.infer<typeof LoraSettings>;

/** PEFT's scaling: lora_alpha / r, or lora_alpha / √r with use_rslora (tuners/lora/layer.py, update_layer). */
export const loraScale = (s: { r: number; alpha: number; rslora: boolean }): number =>
  s.rslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;

/** One adapted Linear as the layer code uses it. */
export interface LoraLinear {
  a: Float32Array; // (r, in)
  b: Float32Array; // (out, r)
  r: number;
  scale: number;
}
export type LayerLora = Partial<Record<LoraKey, LoraLinear>>;
/** Gradient buffers of one layer's adapters (either may be null: frozen). */
export type LayerLoraGrads = Partial<Record<LoraKey, { a: Float32Array | null; b: Float32Array | null }>>;

/** The parameter name of a module's adapter matrix in layer l (PEFT's key without "base_model.model."). */
export const loraName = (l: number, m: LoraModule, ab: "A" | "B"): string =>
  `model.layers.${l}.${LORA_MODULES[m].path}.lora_${ab}.weight`;

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

/** An adapter attached to a model: its settings and where its tensors sit in model.params. */
export interface AttachedLora {
  settings: LoraSettings;
  scale: number;
  /** Parameter names of every adapter tensor (lora_A and lora_B of each adapted module). */
  names: string[];
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

/** Layer l's adapters (from model.params) or their gradients (from a newGrads() map); undefined when there are none. */
export function layerLora(params: Params, l: number, lora: AttachedLora | undefined): LayerLora | undefined {
  if (!lora) return undefined;
  const out: LayerLora = {};
  for (const m of lora.settings.targets) {
    const a = params.get(loraName(l, m, "A")),
      b = params.get(loraName(l, m, "B"));
    if (a && b) out[LORA_MODULES[m].key] = { a, b, r: lora.settings.r, scale: lora.scale };
  }
  return out;
}

/** Layer l's adapter gradient buffers in a newGrads() map (null where frozen). */
export function layerLoraGrads(grads: Params, l: number, lora: AttachedLora | undefined): LayerLoraGrads | undefined {
  if (!lora) return undefined;
  const out: LayerLoraGrads = {};
  for (const m of lora.settings.targets)
    out[LORA_MODULES[m].key] = {
      a: grads.get(loraName(l, m, "A")) ?? null,
      b: grads.get(loraName(l, m, "B")) ?? null,
    };
  return out;
}

/** y (T, out) += s·(x·Aᵀ)·Bᵀ. u = s·x·Aᵀ (T, r) is a temporary from alloc. */
export function loraForward(
  be: Backend,
  y: Float32Array,
  x: Float32Array,
  ad: LoraLinear,
  T: number,
  out: number,
  inp: number,
  alloc: Alloc,
): void {
  const u = alloc(T * ad.r);
  be.matmul(u, x, ad.a, T, ad.r, inp, { transB: true });
  be.scale(u, ad.scale, T * ad.r);
  be.matmul(y, u, ad.b, T, out, ad.r, { transB: true, accumulate: true });
}

/**
 * The backward of loraForward: dx += s·dy·B·A, dB += s·dyᵀ·(x·Aᵀ), dA += s·(dy·B)ᵀ·x. Recomputes u = s·x·Aᵀ
 * (T·r·in flops) instead of keeping it. Temporaries come from alloc and are zero on arrival.
 */
export function loraBackward(
  be: Backend,
  dx: Float32Array,
  g: { a: Float32Array | null; b: Float32Array | null } | undefined,
  dy: Float32Array,
  x: Float32Array,
  ad: LoraLinear,
  T: number,
  out: number,
  inp: number,
  alloc: Alloc,
): void {
  const u = alloc(T * ad.r),
    du = alloc(T * ad.r);
  be.matmul(u, x, ad.a, T, ad.r, inp, { transB: true });
  be.scale(u, ad.scale, T * ad.r);
  be.matmulBackward(du, g?.b ?? null, dy, u, ad.b, T, out, ad.r, { transB: true }); // du = dy·B, dB += dyᵀ·u
  be.scale(du, ad.scale, T * ad.r);
  be.matmulBackward(dx, g?.a ?? null, du, x, ad.a, T, ad.r, inp, { transB: true }); // dx += du·A, dA += duᵀ·x
}

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
