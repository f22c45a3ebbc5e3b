// The decoder layer composed from kernels: its backward against finite differences on the float64 reference,
// and every backend's forward/backward against ref (tolerance rtol 1e-3, atol 1e-4 × max(1, the tensor's largest
// entry): a whole layer of float32 GEMMs and attention summed in different orders, and some gradients — the key
// bias's — are small sums of large cancelling terms).
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
} from "../../src/model/layer.js";
import { Rng } from "../../src/tensor/rng.js";
import type { Alloc } from "../../src/tensor/workspace.js";
import { assertClose, cuSeqlens, gradcheck } from "../helpers.js";

function makeWeights(c: LayerConfig, rng: Rng, alloc: Alloc): LayerWeights {
  const w: Partial<LayerWeights> = {};
  for (const [name, n] of Object.entries(layerParamShapes(c)) as [keyof LayerWeights, number][]) {
    if (!c.qkvBias && name.startsWith("b")) continue;
    const t = alloc(n);
    const isNorm = name.endsWith("Norm");
    for (let i = 0; i < n; i++) t[i] = isNorm ? 1 + 0.2 * rng.normal() : rng.normal() * 0.3;
    w[name] = t;
  }
  return w as LayerWeights;
}

function layerInputs(
  c: LayerConfig,
  lengths: number[],
  theta: number,
): { shape: AttentionShape; positions: Int32Array; invFreq: Float32Array } {
  const cu = cuSeqlens(lengths);
  const positions = new Int32Array(cu[lengths.length]);
  lengths.forEach((l, s) => {
    for (let i = 0; i < l; i++) positions[cu[s] + i] = i;
  });
  const invFreq = new Float32Array(c.HS / 2).map((_, i) => 1 / theta ** ((2 * i) / c.HS));
  return { shape: { cuSeqlens: cu, NH: c.NH, NKV: c.NKV, HS: c.HS, scale: 1 / Math.sqrt(c.HS) }, positions, invFreq };
}

describe("decoder layer", () => {
  it("backward agrees with finite differences on the float64 reference (x and every weight, q/k/v bias, GQA)", () => {
    const rng = new Rng(31);
    const c: LayerConfig = { C: 8, NH: 4, NKV: 2, HS: 4, FF: 12, eps: 1e-6, qkvBias: true };
    // The reference kernels compute in whatever array type they are handed; float64 makes the check tight.
    const alloc64 = ((n: number) => new Float64Array(n)) as unknown as Alloc;
    const w = makeWeights(c, rng, alloc64);
    const io = layerInputs(c, [3, 2], 10000);
    const x = alloc64(5 * c.C);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    const inputs = { x, ...w } as unknown as Record<string, Float64Array>;
    gradcheck(
      "layer",
      inputs,
      () => layerForward(refBackend, c, w, x, io, alloc64).out as unknown as Float64Array,
      (dOut) => {
        const { acts } = layerForward(refBackend, c, w, x, io, alloc64);
        const dx = alloc64(x.length);
        const grads = Object.fromEntries(
          Object.entries(w).map(([k, v]) => [k, alloc64(v.length)]),
        ) as unknown as LayerWeights;
        layerBackward(refBackend, c, w, acts, io, dOut as unknown as Float32Array, dx, grads, alloc64);
        return { x: dx, ...grads } as unknown as Record<string, Float64Array>;
      },
      rng,
    );
  });

  for (const { name, backend } of probeBackends()) {
    if (!backend || name === "ref") continue;
    const be: Backend = backend;
    it(`${name} forward and backward match ref (Llama-style and Qwen2-style)`, () => {
      const rng = new Rng(32);
      for (const c of [
        { C: 64, NH: 4, NKV: 4, HS: 16, FF: 96, eps: 1e-5, qkvBias: false },
        { C: 48, NH: 6, NKV: 2, HS: 8, FF: 80, eps: 1e-6, qkvBias: true },
      ] as LayerConfig[]) {
        const w = makeWeights(c, rng, (n) => new Float32Array(n));
        const io = layerInputs(c, [5, 17, 1], 1e6);
        const T = 23,
          x = rng.normalArray(T * c.C),
          dOut = rng.normalArray(T * c.C);
        const run = (b: Backend) => {
          const { out, acts } = layerForward(b, c, w, x, io);
          const dx = new Float32Array(x.length);
          const grads = Object.fromEntries(
            Object.entries(w).map(([k, v]) => [k, new Float32Array(v.length)]),
          ) as unknown as LayerWeights;
          layerBackward(b, c, w, acts, io, dOut, dx, grads);
          return { out, dx, ...grads } as Record<string, Float32Array>;
        };
        const want = run(refBackend),
          got = run(be);
        for (const k of Object.keys(want)) {
          const maxAbs = want[k].reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          assertClose(
            got[k],
            want[k],
            { rtol: 1e-3, atol: 1e-4 * Math.max(1, maxAbs) },
            `layer ${k} qkvBias=${c.qkvBias}`,
          );
        }
      }
    });
  }
});
