// One Llama/Qwen2 decoder layer on the Backend kernels, forward and explicit backward, over a packed batch of T
// tokens:  x2 = x + Wo·attn(rope(Wq·norm1(x)), rope(Wk·…), Wv·…);  out = x2 + Wdown·swiglu(Wgate·norm2(x2), Wup·…)
// Weights use Hugging Face's Linear layout (out_features, in_features). Qwen2's q/k/v bias is a flag. A frozen
// matrix may be 16-bit (Weight); norms, biases and every gradient are fp32.
// This is only the layer: embedding, final norm, LM head and the parameter store belong to the model.

import type { AttentionShape, Backend } from "../backends/backend.js";
import { type Panels, panelMaxRows, type Weight } from "../tensor/dtype.js";
import type { Alloc } from "../tensor/workspace.js";
import { type LayerLora, type LayerLoraGrads, type LoraLinear, loraBackward, loraForward } from "./lora-math.js";

export interface LayerConfig {
  C: number; // hidden size
  NH: number; // query heads
  NKV: number; // key/value heads (divides NH)
  HS: number; // head size
  FF: number; // MLP intermediate size
  eps: number; // RMSNorm epsilon
  qkvBias: boolean;
}

/** Parameters of one layer, named after their Hugging Face tensors; matrices are W (frozen ones may be 16-bit). */
export interface LayerWeights<W extends Weight = Float32Array> {
  inputNorm: Float32Array; // (C)
  wq: W; // (NH·HS, C)
  wk: W; // (NKV·HS, C)
  wv: W; // (NKV·HS, C)
  bq?: Float32Array; // (NH·HS), with qkvBias
  bk?: Float32Array; // (NKV·HS)
  bv?: Float32Array; // (NKV·HS)
  wo: W; // (C, NH·HS)
  postNorm: Float32Array; // (C)
  wGate: W; // (FF, C)
  wUp: W; // (FF, C)
  wDown: W; // (C, FF)
}

/** Where a layer's tokens sit: attention layout, RoPE positions and inverse frequencies. */
export interface LayerInputs {
  shape: AttentionShape;
  positions: Int32Array; // (T)
  invFreq: Float32Array; // (HS/2)
  /**
   * Replaces causal attention over `shape` (generation: attend over a KV cache, or store k/v into one). Gets the
   * layer index, the output buffer and the post-RoPE q, k and v. Layers run with it cannot be differentiated.
   */
  attend?: (layer: number, att: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array) => void;
  layer?: number; // index passed to attend
  /** Decoding: every layer's matrices as panels (decode-weights.ts), read instead when T ≤ panelMaxRows(). */
  panels?: readonly LayerPanels[];
}

/** A layer's frozen matrices as panels for decoding: q, k and v in one (rows of Wq, Wk, Wv), gate and up in one. */
export interface LayerPanels {
  qkv: Panels;
  o: Panels;
  gateUp: Panels;
  down: Panels;
}

/** What forward saves for backward. */
export interface LayerActivations {
  x: Float32Array;
  h1: Float32Array;
  rstd1: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  att: Float32Array;
  lse: Float32Array;
  x2: Float32Array;
  h2: Float32Array;
  rstd2: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  act: Float32Array;
}

const zeros: Alloc = (n) => new Float32Array(n);

export function layerParamShapes(c: LayerConfig): Record<keyof LayerWeights, number> {
  const qd = c.NH * c.HS,
    kvd = c.NKV * c.HS;
  return {
    inputNorm: c.C,
    wq: qd * c.C,
    wk: kvd * c.C,
    wv: kvd * c.C,
    bq: qd,
    bk: kvd,
    bv: kvd,
    wo: c.C * qd,
    postNorm: c.C,
    wGate: c.FF * c.C,
    wUp: c.FF * c.C,
    wDown: c.C * c.FF,
  };
}

/** y (T, out) = x (T, in) · Wᵀ (+ b) (+ a LoRA adapter's s·x·Aᵀ·Bᵀ), with W in torch Linear layout (out, in). */
export function linear(
  be: Backend,
  y: Float32Array,
  x: Float32Array,
  w: Weight,
  b: Float32Array | undefined,
  T: number,
  out: number,
  inp: number,
  lora?: LoraLinear,
  alloc: Alloc = zeros,
): void {
  be.matmul(y, x, w, T, out, inp, { transB: true });
  if (b) be.biasAdd(y, y, b, T, out);
  if (lora) loraForward(be, y, x, lora, T, out, inp, alloc);
}

/** linear() for several outputs from one product with their stacked matrices' panels (ys[i] is (T, out_i); the
 *  panels' N is Σ out_i): the product's rows split into the outputs, then each one's bias and adapter. */
function linearPanels(
  be: Backend,
  ys: Float32Array[],
  x: Float32Array,
  p: Panels,
  bs: (Float32Array | undefined)[],
  loras: (LoraLinear | undefined)[],
  T: number,
  alloc: Alloc,
): void {
  const outs = ys.map((y) => y.length / T);
  const y = ys.length === 1 ? ys[0] : alloc(T * p.N);
  be.matmulPanels(y, x, p, T);
  if (ys.length > 1)
    for (let t = 0; t < T; t++) {
      let o = t * p.N;
      ys.forEach((yi, i) => {
        yi.set(y.subarray(o, o + outs[i]), t * outs[i]);
        o += outs[i];
      });
    }
  ys.forEach((yi, i) => {
    const b = bs[i],
      lora = loras[i];
    if (b) be.biasAdd(yi, yi, b, T, outs[i]);
    if (lora) loraForward(be, yi, x, lora, T, outs[i], p.K, alloc);
  });
}

function linearBackward(
  be: Backend,
  dx: Float32Array,
  dW: Float32Array | null,
  db: Float32Array | null | undefined,
  dy: Float32Array,
  x: Float32Array,
  w: Weight,
  T: number,
  out: number,
  inp: number,
  lora?: LoraLinear,
  loraGrads?: { a: Float32Array | null; b: Float32Array | null },
  alloc: Alloc = zeros,
): void {
  if (db) be.biasAddBackward(null, db, dy, T, out);
  be.matmulBackward(dx, dW, dy, x, w, T, out, inp, { transB: true });
  if (lora) loraBackward(be, dx, loraGrads, dy, x, lora, T, out, inp, alloc);
}

export function layerForward(
  be: Backend,
  c: LayerConfig,
  w: LayerWeights<Weight>,
  x: Float32Array,
  io: LayerInputs,
  alloc: Alloc = zeros,
  lora?: LayerLora,
): { out: Float32Array; acts: LayerActivations } {
  const T = io.positions.length,
    qd = c.NH * c.HS,
    kvd = c.NKV * c.HS;
  const a: LayerActivations = {
    x,
    h1: alloc(T * c.C),
    rstd1: alloc(T),
    q: alloc(T * qd),
    k: alloc(T * kvd),
    v: alloc(T * kvd),
    att: alloc(T * qd),
    lse: alloc(T * c.NH),
    x2: alloc(T * c.C),
    h2: alloc(T * c.C),
    rstd2: alloc(T),
    gate: alloc(T * c.FF),
    up: alloc(T * c.FF),
    act: alloc(T * c.FF),
  };
  const p = T <= panelMaxRows() ? io.panels?.[io.layer ?? 0] : undefined;
  be.rmsnormForward(a.h1, a.rstd1, x, w.inputNorm, T, c.C, c.eps);
  if (p) linearPanels(be, [a.q, a.k, a.v], a.h1, p.qkv, [w.bq, w.bk, w.bv], [lora?.wq, lora?.wk, lora?.wv], T, alloc);
  else {
    linear(be, a.q, a.h1, w.wq, w.bq, T, qd, c.C, lora?.wq, alloc);
    linear(be, a.k, a.h1, w.wk, w.bk, T, kvd, c.C, lora?.wk, alloc);
    linear(be, a.v, a.h1, w.wv, w.bv, T, kvd, c.C, lora?.wv, alloc);
  }
  be.ropeForward(a.q, a.q, io.positions, io.invFreq, T, c.NH, c.HS);
  be.ropeForward(a.k, a.k, io.positions, io.invFreq, T, c.NKV, c.HS);
  if (io.attend) io.attend(io.layer ?? 0, a.att, a.q, a.k, a.v);
  else be.attentionForward(a.att, a.lse, a.q, a.k, a.v, io.shape);
  if (p) linearPanels(be, [a.x2], a.att, p.o, [undefined], [lora?.wo], T, alloc);
  else linear(be, a.x2, a.att, w.wo, undefined, T, c.C, qd, lora?.wo, alloc);
  be.add(a.x2, a.x2, x, T * c.C);
  be.rmsnormForward(a.h2, a.rstd2, a.x2, w.postNorm, T, c.C, c.eps);
  if (p) linearPanels(be, [a.gate, a.up], a.h2, p.gateUp, [undefined, undefined], [lora?.wGate, lora?.wUp], T, alloc);
  else {
    linear(be, a.gate, a.h2, w.wGate, undefined, T, c.FF, c.C, lora?.wGate, alloc);
    linear(be, a.up, a.h2, w.wUp, undefined, T, c.FF, c.C, lora?.wUp, alloc);
  }
  be.swigluForward(a.act, a.gate, a.up, T * c.FF);
  const out = alloc(T * c.C);
  if (p) linearPanels(be, [out], a.act, p.down, [undefined], [lora?.wDown], T, alloc);
  else linear(be, out, a.act, w.wDown, undefined, T, c.C, c.FF, lora?.wDown, alloc);
  be.add(out, out, a.x2, T * c.C);
  return { out, acts: a };
}

/**
 * Adds d(loss)/d(x) into dx and the weight gradients into grads (any gradient may be omitted: frozen), and those of
 * the LoRA adapters into loraGrads. Temporary buffers come from alloc and are zero on arrival.
 */
export function layerBackward(
  be: Backend,
  c: LayerConfig,
  w: LayerWeights<Weight>,
  a: LayerActivations,
  io: LayerInputs,
  dOut: Float32Array,
  dx: Float32Array,
  grads: Partial<LayerWeights>,
  alloc: Alloc = zeros,
  lora?: LayerLora,
  loraGrads?: LayerLoraGrads,
): void {
  const T = io.positions.length,
    qd = c.NH * c.HS,
    kvd = c.NKV * c.HS,
    g = (k: keyof LayerWeights) => grads[k] ?? null;
  // MLP branch: out = x2 + Wdown·swiglu(...)
  const dx2 = alloc(T * c.C);
  be.addBackward(dx2, null, dOut, T * c.C);
  const dAct = alloc(T * c.FF),
    dGate = alloc(T * c.FF),
    dUp = alloc(T * c.FF),
    dh2 = alloc(T * c.C);
  linearBackward(be, dAct, g("wDown"), null, dOut, a.act, w.wDown, T, c.C, c.FF, lora?.wDown, loraGrads?.wDown, alloc);
  be.swigluBackward(dGate, dUp, dAct, a.gate, a.up, T * c.FF);
  linearBackward(be, dh2, g("wGate"), null, dGate, a.h2, w.wGate, T, c.FF, c.C, lora?.wGate, loraGrads?.wGate, alloc);
  linearBackward(be, dh2, g("wUp"), null, dUp, a.h2, w.wUp, T, c.FF, c.C, lora?.wUp, loraGrads?.wUp, alloc);
  be.rmsnormBackward(dx2, g("postNorm"), dh2, a.x2, w.postNorm, a.rstd2, T, c.C);
  // Attention branch: x2 = x + Wo·attn(...)
  be.addBackward(dx, null, dx2, T * c.C);
  const dAtt = alloc(T * qd),
    dq = alloc(T * qd),
    dk = alloc(T * kvd),
    dv = alloc(T * kvd);
  linearBackward(be, dAtt, g("wo"), null, dx2, a.att, w.wo, T, c.C, qd, lora?.wo, loraGrads?.wo, alloc);
  be.attentionBackward(dq, dk, dv, dAtt, a.q, a.k, a.v, a.att, a.lse, io.shape);
  const dqPre = alloc(T * qd),
    dkPre = alloc(T * kvd),
    dh1 = alloc(T * c.C);
  be.ropeBackward(dqPre, dq, io.positions, io.invFreq, T, c.NH, c.HS);
  be.ropeBackward(dkPre, dk, io.positions, io.invFreq, T, c.NKV, c.HS);
  const qb = c.qkvBias;
  linearBackward(be, dh1, g("wq"), qb ? g("bq") : null, dqPre, a.h1, w.wq, T, qd, c.C, lora?.wq, loraGrads?.wq, alloc);
  linearBackward(be, dh1, g("wk"), qb ? g("bk") : null, dkPre, a.h1, w.wk, T, kvd, c.C, lora?.wk, loraGrads?.wk, alloc);
  linearBackward(be, dh1, g("wv"), qb ? g("bv") : null, dv, a.h1, w.wv, T, kvd, c.C, lora?.wv, loraGrads?.wv, alloc);
  be.rmsnormBackward(dx, g("inputNorm"), dh1, a.x, w.inputNorm, a.rstd1, T, c.C);
}
