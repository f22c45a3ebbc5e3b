// Every kernel of every non-reference backend against the `ref` oracle on seeded random inputs, including odd
// sizes, grouped-query heads, ragged and empty sequences, and accumulation into non-zero outputs.
// Tolerances: rtol 1e-4 / atol 1e-4 for float32 kernels whose sums the backends order differently
// (GEMM, attention, reductions), 1e-5 for element-wise kernels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend, MatmulOptions } from "../../src/backends/backend.js";
import { probeBackends } from "../../src/backends/index.js";
import { refBackend as ref } from "../../src/backends/ref/index.js";
import { Rng } from "../../src/tensor/rng.js";
import { clipGradNorm } from "../../src/train/clip.js";
import { assertClose, copy, cuSeqlens, randInts, randn } from "../helpers.js";

const SUMS = { rtol: 1e-4, atol: 1e-4 };
const ELEMENTWISE = { rtol: 1e-5, atol: 1e-5 };

// Includes shapes of batched decoding (a few rows against a weight).
const ODD_SIZES: [number, number, number][] = [
  [1, 1, 1],
  [3, 17, 5],
  [17, 63, 33],
  [64, 65, 127],
  [1, 300, 17],
  [63, 1, 3],
  [16, 129, 515],
  [6, 300, 64],
  [2, 7, 1],
];
const ATTENTION_CASES: { lengths: number[]; NH: number; NKV: number; HS: number }[] = [
  { lengths: [1], NH: 1, NKV: 1, HS: 8 },
  { lengths: [3, 17], NH: 4, NKV: 2, HS: 16 },
  { lengths: [5, 1, 63, 2], NH: 6, NKV: 3, HS: 3 },
  { lengths: [0, 4, 0, 17], NH: 4, NKV: 1, HS: 64 },
  { lengths: [130], NH: 2, NKV: 2, HS: 32 },
];

function invFreq(HS: number, theta: number): Float32Array {
  const f = new Float32Array(HS / 2);
  for (let i = 0; i < HS / 2; i++) f[i] = 1 / theta ** ((2 * i) / HS);
  return f;
}

const backends = probeBackends().filter((b) => b.name !== "ref");

it("the cpu backend's native addon is built and loads", () => {
  const cpu = backends.find((b) => b.name === "cpu");
  assert.ok(cpu?.backend, cpu?.error ?? "cpu backend missing from the registry");
});

for (const { name, backend } of backends) {
  if (!backend) continue;
  const be: Backend = backend;
  describe(`${name} backend matches ref`, () => {
    it("matmul: every transpose, odd sizes, batches, accumulate", () => {
      const rng = new Rng(1);
      for (const [M, N, K] of ODD_SIZES) {
        for (const transA of [false, true])
          for (const transB of [false, true])
            for (const batch of [1, 3]) {
              for (const accumulate of [false, true]) {
                const opts: MatmulOptions = { transA, transB, batch, accumulate };
                const a = randn(rng, batch * M * K),
                  b = randn(rng, batch * K * N),
                  c0 = randn(rng, batch * M * N);
                const want = copy(c0),
                  got = copy(c0);
                ref.matmul(want, a, b, M, N, K, opts);
                be.matmul(got, a, b, M, N, K, opts);
                assertClose(got, want, SUMS, `matmul ${JSON.stringify({ M, N, K, ...opts })}`);
              }
            }
      }
    });

    it("matmul backward: every transpose, batches, gradients accumulate", () => {
      const rng = new Rng(2);
      for (const [M, N, K] of ODD_SIZES) {
        for (const transA of [false, true])
          for (const transB of [false, true]) {
            const batch = 2,
              opts = { transA, transB, batch };
            const a = randn(rng, batch * M * K),
              b = randn(rng, batch * K * N),
              dC = randn(rng, batch * M * N);
            const dA0 = randn(rng, a.length),
              dB0 = randn(rng, b.length);
            const [wa, wb, ga, gb] = [copy(dA0), copy(dB0), copy(dA0), copy(dB0)];
            ref.matmulBackward(wa, wb, dC, a, b, M, N, K, opts);
            be.matmulBackward(ga, gb, dC, a, b, M, N, K, opts);
            assertClose(ga, wa, SUMS, `dA ${JSON.stringify({ M, N, K, transA, transB })}`);
            assertClose(gb, wb, SUMS, `dB ${JSON.stringify({ M, N, K, transA, transB })}`);
          }
      }
    });

    it("embedding forward and scatter-add backward with repeated ids", () => {
      const rng = new Rng(3);
      for (const [T, C, V] of [
        [1, 1, 1],
        [17, 3, 5],
        [63, 64, 11],
        [300, 257, 7],
      ]) {
        const table = randn(rng, V * C),
          ids = randInts(rng, T, V),
          dOut = randn(rng, T * C);
        const want = new Float32Array(T * C),
          got = new Float32Array(T * C);
        ref.embeddingForward(want, table, ids, T, C);
        be.embeddingForward(got, table, ids, T, C);
        assertClose(got, want, { rtol: 0, atol: 0 }, `embedding ${T}x${C}`);
        const d0 = randn(rng, V * C),
          dw = copy(d0),
          dg = copy(d0);
        ref.embeddingBackward(dw, dOut, ids, T, C);
        be.embeddingBackward(dg, dOut, ids, T, C);
        assertClose(dg, dw, SUMS, `embedding backward ${T}x${C}`);
      }
    });

    it("rmsnorm forward and backward", () => {
      const rng = new Rng(4);
      for (const [N, C] of [
        [1, 1],
        [3, 3],
        [17, 63],
        [300, 256],
      ]) {
        const x = randn(rng, N * C, 3),
          w = randn(rng, C),
          dOut = randn(rng, N * C);
        const [ow, rw, og, rg] = [
          new Float32Array(N * C),
          new Float32Array(N),
          new Float32Array(N * C),
          new Float32Array(N),
        ];
        ref.rmsnormForward(ow, rw, x, w, N, C, 1e-6);
        be.rmsnormForward(og, rg, x, w, N, C, 1e-6);
        assertClose(og, ow, ELEMENTWISE, `rmsnorm out ${N}x${C}`);
        assertClose(rg, rw, ELEMENTWISE, `rmsnorm rstd ${N}x${C}`);
        const dx0 = randn(rng, N * C),
          dw0 = randn(rng, C);
        const [dxw, dww, dxg, dwg] = [copy(dx0), copy(dw0), copy(dx0), copy(dw0)];
        ref.rmsnormBackward(dxw, dww, dOut, x, w, rw, N, C);
        be.rmsnormBackward(dxg, dwg, dOut, x, w, rw, N, C);
        assertClose(dxg, dxw, SUMS, `rmsnorm dx ${N}x${C}`);
        assertClose(dwg, dww, SUMS, `rmsnorm dweight ${N}x${C}`);
        const dxOnly = copy(dx0);
        be.rmsnormBackward(dxOnly, null, dOut, x, w, rw, N, C);
        assertClose(dxOnly, dxw, SUMS, `rmsnorm dx without dweight ${N}x${C}`);
      }
    });

    it("rope forward (also in place) and backward, ragged positions, two bases", () => {
      const rng = new Rng(5);
      for (const [T, H, HS, theta] of [
        [1, 1, 2, 10000],
        [17, 3, 8, 10000],
        [63, 4, 64, 1e6],
        [300, 2, 128, 500000],
      ]) {
        const x = randn(rng, T * H * HS),
          dOut = randn(rng, x.length),
          f = invFreq(HS, theta);
        const positions = Int32Array.from({ length: T }, (_, t) => ((t * 7) % 41) + (t > T / 2 ? 1000 : 0));
        const want = new Float32Array(x.length),
          got = new Float32Array(x.length);
        ref.ropeForward(want, x, positions, f, T, H, HS);
        be.ropeForward(got, x, positions, f, T, H, HS);
        assertClose(got, want, ELEMENTWISE, `rope ${T}x${H}x${HS}`);
        const inPlace = copy(x);
        be.ropeForward(inPlace, inPlace, positions, f, T, H, HS);
        assertClose(inPlace, want, ELEMENTWISE, `rope in place ${T}x${H}x${HS}`);
        const d0 = randn(rng, x.length),
          dw = copy(d0),
          dg = copy(d0);
        ref.ropeBackward(dw, dOut, positions, f, T, H, HS);
        be.ropeBackward(dg, dOut, positions, f, T, H, HS);
        assertClose(dg, dw, ELEMENTWISE, `rope backward ${T}x${H}x${HS}`);
      }
    });

    it("causal GQA attention forward and backward over ragged packed sequences", () => {
      const rng = new Rng(6);
      for (const { lengths, NH, NKV, HS } of ATTENTION_CASES) {
        const shape = { cuSeqlens: cuSeqlens(lengths), NH, NKV, HS, scale: 1 / Math.sqrt(HS) };
        const T = shape.cuSeqlens[lengths.length];
        const q = randn(rng, T * NH * HS),
          k = randn(rng, T * NKV * HS),
          v = randn(rng, T * NKV * HS);
        const [ow, lw, og, lg] = [
          new Float32Array(q.length),
          new Float32Array(T * NH),
          new Float32Array(q.length),
          new Float32Array(T * NH),
        ];
        ref.attentionForward(ow, lw, q, k, v, shape);
        be.attentionForward(og, lg, q, k, v, shape);
        const label = JSON.stringify({ lengths, NH, NKV, HS });
        assertClose(og, ow, SUMS, `attention out ${label}`);
        assertClose(lg, lw, SUMS, `attention lse ${label}`);
        const dOut = randn(rng, q.length);
        const [dq0, dk0, dv0] = [randn(rng, q.length), randn(rng, k.length), randn(rng, v.length)];
        const w = [copy(dq0), copy(dk0), copy(dv0)],
          g = [copy(dq0), copy(dk0), copy(dv0)];
        ref.attentionBackward(w[0], w[1], w[2], dOut, q, k, v, ow, lw, shape);
        be.attentionBackward(g[0], g[1], g[2], dOut, q, k, v, ow, lw, shape);
        ["dq", "dk", "dv"].forEach((n, i) => assertClose(g[i], w[i], SUMS, `attention ${n} ${label}`));
      }
    });

    it("attention decode over a KV cache equals the last row of full causal attention", () => {
      const rng = new Rng(7);
      for (const { lens, NH, NKV, HS } of [
        { lens: [1], NH: 2, NKV: 1, HS: 8 },
        { lens: [5, 1, 33], NH: 6, NKV: 2, HS: 16 },
      ]) {
        const S = lens.length,
          L = Math.max(...lens) + 3; // slack rows in the cache must be ignored
        const kCache = randn(rng, S * L * NKV * HS),
          vCache = randn(rng, S * L * NKV * HS),
          q = randn(rng, S * NH * HS);
        const cacheLens = Int32Array.from(lens),
          scale = 1 / Math.sqrt(HS);
        const got = new Float32Array(q.length),
          want = new Float32Array(q.length);
        be.attentionDecode(got, q, kCache, vCache, cacheLens, S, L, NH, NKV, HS, scale);
        ref.attentionDecode(want, q, kCache, vCache, cacheLens, S, L, NH, NKV, HS, scale);
        assertClose(got, want, SUMS, `decode vs ref decode ${lens}`);
        for (let s = 0; s < S; s++) {
          // Full attention over one sequence whose last query is q[s]: its last output row must equal decode's.
          const n = lens[s],
            kk = kCache.slice(s * L * NKV * HS, (s * L + n) * NKV * HS);
          const vv = vCache.slice(s * L * NKV * HS, (s * L + n) * NKV * HS);
          const qq = new Float32Array(n * NH * HS);
          qq.set(q.subarray(s * NH * HS, (s + 1) * NH * HS), (n - 1) * NH * HS);
          const out = new Float32Array(qq.length),
            lse = new Float32Array(n * NH);
          be.attentionForward(out, lse, qq, kk, vv, { cuSeqlens: cuSeqlens([n]), NH, NKV, HS, scale });
          assertClose(
            got.subarray(s * NH * HS, (s + 1) * NH * HS),
            out.subarray((n - 1) * NH * HS),
            SUMS,
            `decode seq ${s}`,
          );
        }
      }
    });

    it("swiglu, residual add and bias add, forward and backward", () => {
      const rng = new Rng(8);
      for (const [N, C] of [
        [1, 1],
        [17, 3],
        [300, 257],
      ]) {
        const n = N * C,
          a = randn(rng, n, 3),
          b = randn(rng, n),
          dOut = randn(rng, n),
          bias = randn(rng, C);
        const run = (f: (be: Backend, out: Float32Array) => void, label: string): void => {
          const w = new Float32Array(n),
            g = new Float32Array(n);
          f(ref, w);
          f(be, g);
          assertClose(g, w, ELEMENTWISE, `${label} ${N}x${C}`);
        };
        run((x, out) => x.swigluForward(out, a, b, n), "swiglu");
        run((x, out) => x.add(out, a, b, n), "add");
        run((x, out) => x.biasAdd(out, a, bias, N, C), "biasAdd");
        const d0 = [randn(rng, n), randn(rng, n), randn(rng, C)];
        const grads = (x: Backend): Float32Array[] => {
          const g = d0.map(copy);
          const [g1, g2, gBias] = g.map(copy);
          x.swigluBackward(g[0], g[1], dOut, a, b, n);
          x.addBackward(g1, g2, dOut, n);
          x.addBackward(null, g2, dOut, n);
          x.biasAddBackward(g1, gBias, dOut, N, C);
          x.biasAddBackward(null, gBias, dOut, N, C);
          return [...g.slice(0, 2), g1, g2, gBias];
        };
        const [w, g] = [grads(ref), grads(be)];
        ["dGate", "dUp", "add/bias dx", "add db", "dBias"].forEach((l, i) =>
          assertClose(g[i], w[i], SUMS, `${l} ${N}x${C}`),
        );
        const aliased = copy(a);
        be.biasAdd(aliased, aliased, bias, N, C);
        const want = new Float32Array(n);
        ref.biasAdd(want, a, bias, N, C);
        assertClose(aliased, want, ELEMENTWISE, `biasAdd in place ${N}x${C}`);
      }
    });

    it("token log-probs forward and backward, vocabularies of 1 to 5000", () => {
      const rng = new Rng(9);
      for (const [N, V] of [
        [1, 1],
        [3, 3],
        [17, 1000],
        [40, 5000],
      ]) {
        const logits = randn(rng, N * V, 4),
          targets = randInts(rng, N, V),
          dLogp = randn(rng, N);
        dLogp[0] = 0; // a masked position
        const [pw, lw, pg, lg] = [new Float32Array(N), new Float32Array(N), new Float32Array(N), new Float32Array(N)];
        ref.tokenLogprobsForward(pw, lw, logits, targets, N, V);
        be.tokenLogprobsForward(pg, lg, logits, targets, N, V);
        assertClose(pg, pw, SUMS, `logp ${N}x${V}`);
        assertClose(lg, lw, SUMS, `lse ${N}x${V}`);
        const d0 = randn(rng, N * V),
          dw = copy(d0),
          dg = copy(d0);
        ref.tokenLogprobsBackward(dw, dLogp, logits, targets, lw, N, V);
        be.tokenLogprobsBackward(dg, dLogp, logits, targets, lw, N, V);
        assertClose(dg, dw, ELEMENTWISE, `dlogits ${N}x${V}`);
      }
    });

    it("AdamW steps, sum of squares, scaling and global-norm clipping", () => {
      const rng = new Rng(10);
      for (const n of [1, 17, 100_003]) {
        const [p, m, v] = [randn(rng, n), new Float32Array(n), new Float32Array(n)];
        const s = { ref: [copy(p), copy(m), copy(v)], be: [copy(p), copy(m), copy(v)] };
        for (let step = 1; step <= 3; step++) {
          const g = randn(rng, n);
          const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
          ref.adamw(s.ref[0], g, s.ref[1], s.ref[2], n, hp);
          be.adamw(s.be[0], g, s.be[1], s.be[2], n, hp);
        }
        ["param", "m", "v"].forEach((l, i) => assertClose(s.be[i], s.ref[i], ELEMENTWISE, `adamw ${l} n=${n}`));
        const x = randn(rng, n);
        assertClose([be.sumSquares(x, n)], [ref.sumSquares(x, n)], { rtol: 1e-9, atol: 0 }, `sumSquares n=${n}`);
        const [xs, xr] = [copy(x), copy(x)];
        be.scale(xs, 0.37, n);
        ref.scale(xr, 0.37, n);
        assertClose(xs, xr, ELEMENTWISE, `scale n=${n}`);
        const grads = [randn(rng, n), randn(rng, 5)],
          gr = grads.map(copy);
        const normB = clipGradNorm(be, grads, 1.0),
          normR = clipGradNorm(ref, gr, 1.0);
        assertClose([normB], [normR], { rtol: 1e-9, atol: 0 }, "clip norm");
        grads.forEach((g, i) => assertClose(g, gr[i], ELEMENTWISE, `clipped grad ${i}`));
      }
    });
  });
}
