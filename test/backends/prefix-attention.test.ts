// Attention with shared prompt prefixes (AttentionShape.prefixOf), on every backend: a continuation's rows equal the
// same rows of the unshared whole sequence (prompt copied in front) bit for bit in forward, and backward equals the
// unshared gradients summed over the prompt's copies; the cpu backend against `ref` with prefixes (prompts longer
// than one 128-row query block, empty continuations, GQA); bad prefix links are refused. The finite-difference check
// of ref's prefix backward is in gradcheck.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AttentionShape, Backend } from "../../src/backends/backend.js";
import { probeBackends } from "../../src/backends/index.js";
import { refBackend as ref } from "../../src/backends/ref/index.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertClose, cuSeqlens, randn } from "../helpers.js";

const SUMS = { rtol: 1e-4, atol: 1e-4 };

/** A packed batch: groups of one prompt and its continuations' lengths; a group without continuations is a plain
 *  sequence. Returns the shared layout, the unshared one (each continuation with its prompt copied in front), and
 *  for each unshared row the shared row it copies. */
function layouts(groups: { prompt: number; conts: number[] }[], NH: number, NKV: number, HS: number) {
  const shared: number[] = [],
    prefixOf: number[] = [],
    unshared: number[] = [],
    rowOf: number[] = [];
  let T = 0;
  for (const { prompt, conts } of groups) {
    const p = shared.length,
      p0 = T;
    shared.push(prompt);
    prefixOf.push(-1);
    T += prompt;
    if (conts.length === 0) {
      unshared.push(prompt);
      for (let j = 0; j < prompt; j++) rowOf.push(p0 + j);
    }
    for (const n of conts) {
      shared.push(n);
      prefixOf.push(p);
      unshared.push(prompt + n);
      for (let j = 0; j < prompt; j++) rowOf.push(p0 + j);
      for (let j = 0; j < n; j++) rowOf.push(T + j);
      T += n;
    }
  }
  const shape = (lengths: number[], pre?: number[]): AttentionShape => ({
    cuSeqlens: cuSeqlens(lengths),
    NH,
    NKV,
    HS,
    scale: 1 / Math.sqrt(HS),
    ...(pre && { prefixOf: Int32Array.from(pre) }),
  });
  return { T, sharedShape: shape(shared, prefixOf), unsharedShape: shape(unshared), rowOf };
}

/** Rows of x (width w) gathered by rowOf. */
const gather = (x: Float32Array, rowOf: number[], w: number): Float32Array => {
  const out = new Float32Array(rowOf.length * w);
  rowOf.forEach((r, i) => out.set(x.subarray(r * w, (r + 1) * w), i * w));
  return out;
};
/** Rows of x (width w) summed into the rows rowOf names (T of them). */
const scatterSum = (x: Float32Array, rowOf: number[], w: number, T: number): Float32Array => {
  const out = new Float32Array(T * w);
  rowOf.forEach((r, i) => {
    for (let d = 0; d < w; d++) out[r * w + d] += x[i * w + d];
  });
  return out;
};

const CASES = [
  { groups: [{ prompt: 3, conts: [2, 4] }], NH: 2, NKV: 1, HS: 4 },
  {
    groups: [
      { prompt: 5, conts: [1, 0, 7] },
      { prompt: 2, conts: [] },
      { prompt: 1, conts: [3] },
    ],
    NH: 4,
    NKV: 2,
    HS: 8,
  },
  // A prompt and a continuation longer than one query block (128 rows) of the cpu kernel.
  {
    groups: [
      { prompt: 140, conts: [131, 9] },
      { prompt: 4, conts: [6, 2] },
    ],
    NH: 6,
    NKV: 2,
    HS: 16,
  },
];

function run(be: Backend, shape: AttentionShape, T: number, q: Float32Array, k: Float32Array, v: Float32Array) {
  const { NH, NKV, HS } = shape;
  const out = new Float32Array(T * NH * HS),
    lse = new Float32Array(T * NH);
  be.attentionForward(out, lse, q, k, v, shape);
  return {
    out,
    lse,
    backward: (dOut: Float32Array) => {
      const g = [new Float32Array(T * NH * HS), new Float32Array(T * NKV * HS), new Float32Array(T * NKV * HS)];
      be.attentionBackward(g[0], g[1], g[2], dOut, q, k, v, out, lse, shape);
      return g;
    },
  };
}

const all = probeBackends().filter((b) => b.backend);

for (const { name, backend } of all) {
  const be = backend!;
  describe(`${name}: attention with shared prefixes`, () => {
    it("forward equals the unshared whole sequences bit for bit; backward their gradients summed", () => {
      const rng = new Rng(21);
      for (const { groups, NH, NKV, HS } of CASES) {
        const { T, sharedShape, unsharedShape, rowOf } = layouts(groups, NH, NKV, HS),
          U = rowOf.length,
          label = JSON.stringify(groups);
        const q = randn(rng, T * NH * HS),
          k = randn(rng, T * NKV * HS),
          v = randn(rng, T * NKV * HS);
        const sh = run(be, sharedShape, T, q, k, v);
        const un = run(
          be,
          unsharedShape,
          U,
          gather(q, rowOf, NH * HS),
          gather(k, rowOf, NKV * HS),
          gather(v, rowOf, NKV * HS),
        );
        assert.deepEqual(gather(sh.out, rowOf, NH * HS), un.out, `out ${label}`);
        assert.deepEqual(gather(sh.lse, rowOf, NH), un.lse, `lse ${label}`);
        const dOutU = randn(rng, U * NH * HS);
        const gu = un.backward(dOutU),
          gs = sh.backward(scatterSum(dOutU, rowOf, NH * HS, T));
        [NH, NKV, NKV].forEach((heads, i) =>
          assertClose(gs[i], scatterSum(gu[i], rowOf, heads * HS, T), SUMS, `d${"qkv"[i]} ${label}`),
        );
      }
    });

    it("refuses a prefix that is not an earlier sequence without a prefix", () => {
      const q = new Float32Array(4 * 4),
        lse = new Float32Array(4);
      for (const pre of [
        [-1, 1, -1],
        [-1, 0, 1],
        [-1, 3, -1],
      ]) {
        const shape = {
          cuSeqlens: cuSeqlens([1, 2, 1]),
          NH: 1,
          NKV: 1,
          HS: 4,
          scale: 0.5,
          prefixOf: Int32Array.from(pre),
        };
        assert.throws(() => be.attentionForward(new Float32Array(16), lse, q, q, q, shape), /prefixOf\[\d\]/, `${pre}`);
      }
    });
  });
}

describe("cpu attention with shared prefixes matches ref", () => {
  const cpu = all.find((b) => b.name === "cpu")?.backend;
  it("forward and backward, accumulating into non-zero gradients", { skip: !cpu }, () => {
    const rng = new Rng(22);
    for (const { groups, NH, NKV, HS } of CASES) {
      const { T, sharedShape: shape } = layouts(groups, NH, NKV, HS),
        label = JSON.stringify(groups);
      const q = randn(rng, T * NH * HS),
        k = randn(rng, T * NKV * HS),
        v = randn(rng, T * NKV * HS);
      const want = run(ref, shape, T, q, k, v),
        got = run(cpu!, shape, T, q, k, v);
      assertClose(got.out, want.out, SUMS, `out ${label}`);
      assertClose(got.lse, want.lse, SUMS, `lse ${label}`);
      const dOut = randn(rng, T * NH * HS),
        init = [randn(rng, q.length), randn(rng, k.length), randn(rng, v.length)];
      const w = init.map((x) => x.slice()),
        g = init.map((x) => x.slice());
      ref.attentionBackward(w[0], w[1], w[2], dOut, q, k, v, want.out, want.lse, shape);
      cpu!.attentionBackward(g[0], g[1], g[2], dOut, q, k, v, want.out, want.lse, shape);
      ["dq", "dk", "dv"].forEach((n, i) => assertClose(g[i], w[i], SUMS, `${n} ${label}`));
    }
  });
});
