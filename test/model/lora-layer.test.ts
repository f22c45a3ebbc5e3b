// LoRA inside the decoder layer: the backward (x, every A and B, and the frozen base's own gradients) against
// finite differences on the float64 reference; every backend against ref; and the adapter term itself against the
// obvious formula y = x·Wᵀ + s·x·Aᵀ·Bᵀ computed with plain loops.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AttentionShape, Backend } from "../../src/backends/backend.js";
import { probeBackends } from "../../src/backends/index.js";
import { refBackend } from "../../src/backends/ref/index.js";
import {
  type LayerConfig,
  type LayerWeights,
  layerBackward,
  layerForward,
  layerParamShapes,
  linear,
} from "../../src/model/layer.js";
import { type LayerLora, type LayerLoraGrads, LORA_MODULES, type LoraKey } from "../../src/model/lora-math.js";
import { Rng } from "../../src/tensor/rng.js";
import type { Alloc } from "../../src/tensor/workspace.js";
import { assertClose, cuSeqlens, gradcheck } from "../helpers.js";

function makeWeights(c: LayerConfig, rng: Rng, alloc: Alloc): LayerWeights {
  const w: Partial<LayerWeights> = {};
  for (const [name, n] of Object.entries(layerParamShapes(c)) as [keyof LayerWeights, number][]) {
    if (!c.qkvBias && name.startsWith("b")) continue;
    const t = alloc(n);
    for (let i = 0; i < n; i++) t[i] = name.endsWith("Norm") ? 1 + 0.2 * rng.normal() : rng.normal() * 0.3;
    w[name] = t;
  }
  return w as LayerWeights;
}

function dims(c: LayerConfig, key: LoraKey): [number, number] {
  const qd = c.NH * c.HS,
    kvd = c.NKV * c.HS;
  return {
    wq: [qd, c.C],
    wk: [kvd, c.C],
    wv: [kvd, c.C],
    wo: [c.C, qd],
    wGate: [c.FF, c.C],
    wUp: [c.FF, c.C],
    wDown: [c.C, c.FF],
  }[key] as [number, number];
}

/** Adapters on every module with non-zero B (so that A's gradient is not trivially zero). */
function makeLora(c: LayerConfig, r: number, scale: number, rng: Rng, alloc: Alloc): LayerLora {
  const lora: LayerLora = {};
  for (const { key } of Object.values(LORA_MODULES)) {
    const [o, i] = dims(c, key),
      a = alloc(r * i),
      b = alloc(o * r);
    for (let k = 0; k < a.length; k++) a[k] = rng.normal() * 0.3;
    for (let k = 0; k < b.length; k++) b[k] = rng.normal() * 0.3;
    lora[key] = { a, b, r, scale };
  }
  return lora;
}

function layerInputs(
  c: LayerConfig,
  lengths: number[],
): { shape: AttentionShape; positions: Int32Array; invFreq: Float32Array } {
  const cu = cuSeqlens(lengths),
    positions = new Int32Array(cu[lengths.length]);
  lengths.forEach((l, s) => {
    for (let i = 0; i < l; i++) positions[cu[s] + i] = i;
  });
  const invFreq = new Float32Array(c.HS / 2).map((_, i) => 1 / 10000 ** ((2 * i) / c.HS));
  return { shape: { cuSeqlens: cu, NH: c.NH, NKV: c.NKV, HS: c.HS, scale: 1 / Math.sqrt(c.HS) }, positions, invFreq };
}

describe("LoRA in the decoder layer", () => {
  it("the adapter term equals x·Wᵀ + s·(x·Aᵀ)·Bᵀ written as loops", () => {
    const rng = new Rng(5),
      T = 3,
      out = 5,
      inp = 4,
      r = 2,
      s = 1.75;
    const x = rng.normalArray(T * inp),
      w = rng.normalArray(out * inp),
      a = rng.normalArray(r * inp),
      b = rng.normalArray(out * r);
    const y = new Float32Array(T * out);
    linear(refBackend, y, x, w, undefined, T, out, inp, { a, b, r, scale: s });
    const want = new Float32Array(T * out);
    for (let t = 0; t < T; t++)
      for (let o = 0; o < out; o++) {
        let acc = 0;
        for (let i = 0; i < inp; i++) acc += x[t * inp + i] * w[o * inp + i];
        for (let k = 0; k < r; k++) {
          let u = 0;
          for (let i = 0; i < inp; i++) u += x[t * inp + i] * a[k * inp + i];
          acc += s * u * b[o * r + k];
        }
        want[t * out + o] = acc;
      }
    assertClose(y, want, { rtol: 1e-5, atol: 1e-6 }, "y");
  });

  it("backward agrees with finite differences on the float64 reference (x, every A and B, base weights)", () => {
    const rng = new Rng(41);
    const c: LayerConfig = { C: 8, NH: 4, NKV: 2, HS: 4, FF: 12, eps: 1e-6, qkvBias: true };
    const alloc64 = ((n: number) => new Float64Array(n)) as unknown as Alloc;
    const w = makeWeights(c, rng, alloc64),
      lora = makeLora(c, 3, 0.7, rng, alloc64);
    const io = layerInputs(c, [3, 2]);
    const x = alloc64(5 * c.C);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    const loraInputs = Object.fromEntries(
      Object.entries(lora).flatMap(([k, ad]) => [
        [`${k}.A`, ad.a],
        [`${k}.B`, ad.b],
      ]),
    );
    const inputs = { x, ...w, ...loraInputs } as unknown as Record<string, Float64Array>;
    gradcheck(
      "lora layer",
      inputs,
      () => layerForward(refBackend, c, w, x, io, alloc64, lora).out as unknown as Float64Array,
      (dOut) => {
        const { acts } = layerForward(refBackend, c, w, x, io, alloc64, lora);
        const dx = alloc64(x.length);
        const grads = Object.fromEntries(
          Object.entries(w).map(([k, v]) => [k, alloc64(v.length)]),
        ) as unknown as LayerWeights;
        const lg: LayerLoraGrads = Object.fromEntries(
          Object.entries(lora).map(([k, ad]) => [k, { a: alloc64(ad.a.length), b: alloc64(ad.b.length) }]),
        );
        layerBackward(refBackend, c, w, acts, io, dOut as unknown as Float32Array, dx, grads, alloc64, lora, lg);
        const lgOut = Object.fromEntries(
          Object.entries(lg).flatMap(([k, g]) => [
            [`${k}.A`, g.a],
            [`${k}.B`, g.b],
          ]),
        );
        return { x: dx, ...grads, ...lgOut } as unknown as Record<string, Float64Array>;
      },
      rng,
    );
  });

  it("frozen adapters (null gradients) still pass the input gradient through B·A", () => {
    const rng = new Rng(43);
    const c: LayerConfig = { C: 16, NH: 2, NKV: 1, HS: 8, FF: 24, eps: 1e-6, qkvBias: false };
    const w = makeWeights(c, rng, (n) => new Float32Array(n)),
      lora = makeLora(c, 2, 2, rng, (n) => new Float32Array(n)),
      io = layerInputs(c, [4]);
    const x = rng.normalArray(4 * c.C),
      dOut = rng.normalArray(4 * c.C);
    const dxOf = (lg: LayerLoraGrads | undefined, ad: LayerLora | undefined) => {
      const { acts } = layerForward(refBackend, c, w, x, io, undefined, ad);
      const dx = new Float32Array(x.length);
      layerBackward(refBackend, c, w, acts, io, dOut, dx, {}, undefined, ad, lg);
      return dx;
    };
    const withGrads = dxOf(
      Object.fromEntries(
        Object.entries(lora).map(([k, ad]) => [
          k,
          { a: new Float32Array(ad.a.length), b: new Float32Array(ad.b.length) },
        ]),
      ),
      lora,
    );
    assertClose(dxOf(undefined, lora), withGrads, { rtol: 0, atol: 0 }, "dx");
    assert.notDeepEqual(dxOf(undefined, undefined), withGrads);
  });

  for (const { name, backend } of probeBackends()) {
    if (!backend || name === "ref") continue;
    const be: Backend = backend;
    it(`${name} forward and backward with LoRA match ref`, () => {
      const rng = new Rng(42);
      const c: LayerConfig = { C: 48, NH: 6, NKV: 2, HS: 8, FF: 80, eps: 1e-6, qkvBias: true };
      const f32: Alloc = (n) => new Float32Array(n);
      const w = makeWeights(c, rng, f32),
        lora = makeLora(c, 4, 0.5, rng, f32),
        io = layerInputs(c, [5, 17, 1]);
      const T = 23,
        x = rng.normalArray(T * c.C),
        dOut = rng.normalArray(T * c.C);
      const run = (b: Backend) => {
        const { out, acts } = layerForward(b, c, w, x, io, f32, lora);
        const dx = new Float32Array(x.length);
        const lg: LayerLoraGrads = Object.fromEntries(
          Object.entries(lora).map(([k, ad]) => [k, { a: f32(ad.a.length), b: f32(ad.b.length) }]),
        );
        layerBackward(b, c, w, acts, io, dOut, dx, {}, f32, lora, lg);
        const flat = Object.entries(lg).flatMap(([k, g]) => [
          [`${k}.A`, g.a!],
          [`${k}.B`, g.b!],
        ]);
        return { out, dx, ...Object.fromEntries(flat) } as Record<string, Float32Array>;
      };
      const want = run(refBackend),
        got = run(be);
      for (const k of Object.keys(want)) {
        const maxAbs = want[k].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(got[k], want[k], { rtol: 1e-3, atol: 1e-4 * Math.max(1, maxAbs) }, `lora layer ${k}`);
      }
    });
  }
});
