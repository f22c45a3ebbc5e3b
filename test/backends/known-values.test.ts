// Kernels on inputs whose answers are known in closed form, on every backend (including ref, so the oracle is
// itself checked against something other than another implementation).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { probeBackends } from "../../src/backends/index.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertClose, cuSeqlens, randn } from "../helpers.js";

const TIGHT = { rtol: 1e-6, atol: 1e-6 };

for (const { name, backend } of probeBackends()) {
  if (!backend) continue;
  const be: Backend = backend;
  describe(`${name} backend on known values`, () => {
    it("matmul of 2x3 by 3x2, plain and with both operands transposed", () => {
      const a = Float32Array.from([1, 2, 3, 4, 5, 6]),
        b = Float32Array.from([7, 8, 9, 10, 11, 12]);
      const c = new Float32Array(4);
      be.matmul(c, a, b, 2, 2, 3);
      assert.deepEqual(Array.from(c), [58, 64, 139, 154]);
      // aᵀ stored (3,2) and bᵀ stored (2,3) give the same product.
      be.matmul(c, Float32Array.from([1, 4, 2, 5, 3, 6]), Float32Array.from([7, 9, 11, 8, 10, 12]), 2, 2, 3, {
        transA: true,
        transB: true,
      });
      assert.deepEqual(Array.from(c), [58, 64, 139, 154]);
    });

    it("token log-probs of uniform logits are −log V", () => {
      const V = 10,
        logits = new Float32Array(2 * V).fill(3.5),
        logp = new Float32Array(2),
        lse = new Float32Array(2);
      be.tokenLogprobsForward(logp, lse, logits, Int32Array.from([0, 9]), 2, V);
      assertClose(logp, [-Math.log(V), -Math.log(V)], TIGHT, "uniform logp");
    });

    it("rope is the identity at position 0 and a quarter turn where angle = π/2", () => {
      const x = Float32Array.from([1, 2, 3, 4]),
        out = new Float32Array(4);
      const invFreq = Float32Array.from([Math.PI / 2, 0]);
      be.ropeForward(out, x, Int32Array.from([0]), invFreq, 1, 1, 4);
      assertClose(out, x, TIGHT, "position 0");
      be.ropeForward(out, x, Int32Array.from([1]), invFreq, 1, 1, 4);
      // pair (x0, x2) = (1, 3) rotates by π/2 → (−3, 1); pair (x1, x3) has angle 0 and stays (2, 4).
      assertClose(out, [-3, 2, 1, 4], TIGHT, "quarter turn");
    });

    it("rmsnorm of a constant row returns the weight", () => {
      const out = new Float32Array(3),
        rstd = new Float32Array(1);
      be.rmsnormForward(out, rstd, Float32Array.from([2, 2, 2]), Float32Array.from([1, -2, 0.5]), 1, 3, 0);
      assertClose(out, [1, -2, 0.5], TIGHT, "constant row");
      assertClose(rstd, [0.5], TIGHT, "rstd");
    });

    it("the first attention row copies its own value; no token sees another sequence", () => {
      const rng = new Rng(21);
      const [NH, NKV, HS] = [4, 2, 8],
        lengths = [5, 7];
      const shape = { cuSeqlens: cuSeqlens(lengths), NH, NKV, HS, scale: 1 / Math.sqrt(HS) };
      const T = 12,
        q = randn(rng, T * NH * HS),
        k = randn(rng, T * NKV * HS),
        v = randn(rng, T * NKV * HS);
      const out = new Float32Array(q.length),
        lse = new Float32Array(T * NH);
      be.attentionForward(out, lse, q, k, v, shape);
      for (const start of [0, 5])
        for (let h = 0; h < NH; h++) {
          const g = Math.floor(h / 2);
          assertClose(
            out.subarray((start * NH + h) * HS, (start * NH + h + 1) * HS),
            v.subarray((start * NKV + g) * HS, (start * NKV + g + 1) * HS),
            TIGHT,
            `row ${start} head ${h}`,
          );
        }
      // Rewrite the second sequence's keys and values: the first sequence's outputs must not move.
      const k2 = k.slice(),
        v2 = v.slice();
      k2.fill(9, 5 * NKV * HS);
      v2.fill(-9, 5 * NKV * HS);
      const out2 = new Float32Array(q.length);
      be.attentionForward(out2, new Float32Array(T * NH), q, k2, v2, shape);
      assert.deepEqual(out2.subarray(0, 5 * NH * HS), out.subarray(0, 5 * NH * HS));
      // And a later token of the same sequence must not influence an earlier one (causality).
      const k3 = k.slice();
      k3.fill(5, 4 * NKV * HS, 5 * NKV * HS);
      const out3 = new Float32Array(q.length);
      be.attentionForward(out3, new Float32Array(T * NH), q, k3, v, shape);
      assert.deepEqual(out3.subarray(0, 4 * NH * HS), out.subarray(0, 4 * NH * HS));
    });

    it("the first AdamW step moves each weight by lr·g/(|g|+eps) after decoupled decay", () => {
      const p = Float32Array.from([1, -2, 0.5]),
        g = Float32Array.from([0.3, -4, 0]);
      const hp = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
      const want = Array.from(
        p,
        (x, i) => x * (1 - hp.lr * hp.weightDecay) - (hp.lr * g[i]) / (Math.abs(g[i]) + hp.eps),
      );
      be.adamw(p, g, new Float32Array(3), new Float32Array(3), 3, hp);
      assertClose(p, want, TIGHT, "first step");
    });
  });
}
