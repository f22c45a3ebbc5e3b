// LoRA's settings and math, below the layer code that runs it: the targetable modules, `train.lora`'s schema and
// PEFT's scaling, one adapted Linear's forward and backward on the Backend kernels (y += s·(x·Aᵀ)·Bᵀ, see lora.ts),
// and a layer's adapters (or their gradients) picked out of a parameter map. It imports nothing from the model, so
// src/model/layer.ts and src/model/model.ts can use it; initialising, checking, attaching and merging an adapter,
// which need the model, are lora.ts.
import { z } from "zod";
import type { Backend } from "../backends/backend.js";
import type { Alloc } from "../tensor/workspace.js";
import { LAYER_TENSORS, type LoraRow } from "./modules.js";

/** The Linear modules of a Llama/Qwen2 layer that LoRA can target, by their Hugging Face module names (modules.ts),
 *  with their path in a layer and the layer code's field. */
export const LORA_MODULES = Object.fromEntries(
  LAYER_TENSORS.filter((t): t is LoraRow => "lora" in t).map((t) => [
    t.lora,
    { path: t.hf.slice(0, -".weight".length), key: t.key },
  ]),
) as { readonly [M in LoraRow["lora"]]: { readonly path: string; readonly key: Extract<LoraRow, { lora: M }>["key"] } };
export type LoraModule = keyof typeof LORA_MODULES;
export type LoraKey = (typeof LORA_MODULES)[LoraModule]["key"];
export const MODULE_NAMES = Object.keys(LORA_MODULES) as [LoraModule, ...LoraModule[]];
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

/** An adapter attached to a model: its settings and where its tensors sit in model.params. */
export interface AttachedLora {
  settings: LoraSettings;
  scale: number;
  /** Parameter names of every adapter tensor (lora_A and lora_B of each adapted module). */
  names: string[];
}

/** Layer l's adapters (from model.params) or their gradients (from a newGrads() map); undefined when there are none. */
export function layerLora(
  params: ReadonlyMap<string, Float32Array>,
  l: number,
  lora: AttachedLora | undefined,
): LayerLora | undefined {
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
export function layerLoraGrads(
  grads: ReadonlyMap<string, Float32Array>,
  l: number,
  lora: AttachedLora | undefined,
): LayerLoraGrads | undefined {
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
