// Every backward kernel of the `ref` backend against central finite differences, computed in float64 (the
// reference kernels run on Float64Array) for the scalar loss L = Σ out·R with a fixed random R, so dOut = R.
// Each input element is perturbed by ±1e-6; tolerance |numeric − analytic| ≤ 1e-7 + 1e-6·|analytic| (helpers.ts).
import { describe, it } from "node:test";
import { refKernels as K, type Vec } from "../../src/backends/ref/index.js";
import { Rng } from "../../src/tensor/rng.js";
import { cuSeqlens, gradcheck, rand64 } from "../helpers.js";

const zeros = (n: number): Float64Array => new Float64Array(n);

describe("ref backward kernels agree with central finite differences", () => {
  it("matmul, every transpose, batched", () => {
    const rng = new Rng(11);
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const [M, N, Kd, batch] = [3, 4, 5, 2],
          opts = { transA, transB, batch };
        const a = rand64(rng, batch * M * Kd),
          b = rand64(rng, batch * Kd * N);
        gradcheck(
          `matmul ${JSON.stringify(opts)}`,
          { a, b },
          () => {
            const c = zeros(batch * M * N);
            K.matmul(c, a, b, M, N, Kd, opts);
            return c;
          },
          (dC) => {
            const [da, db] = [zeros(a.length), zeros(b.length)];
            K.matmulBackward(da, db, dC, a, b, M, N, Kd, opts);
            return { a: da, b: db };
          },
          rng,
        );
      }
  });

  it("embedding (repeated ids scatter-add)", () => {
    const rng = new Rng(12);
    const [T, C, V] = [7, 3, 4],
      table = rand64(rng, V * C),
      ids = Int32Array.from([0, 2, 2, 3, 0, 0, 1]);
    gradcheck(
      "embedding",
      { table },
      () => {
        const out = zeros(T * C);
        K.embeddingForward(out, table, ids, T, C);
        return out;
      },
      (dOut) => {
        const d = zeros(table.length);
        K.embeddingBackward(d, dOut, ids, T, C);
        return { table: d };
      },
      rng,
    );
  });

  it("rmsnorm (x and weight)", () => {
    const rng = new Rng(13);
    const [N, C] = [3, 5],
      x = rand64(rng, N * C, 2),
      weight = rand64(rng, C),
      eps = 1e-5;
    gradcheck(
      "rmsnorm",
      { x, weight },
      () => {
        const out = zeros(N * C);
        K.rmsnormForward(out, zeros(N), x, weight, N, C, eps);
        return out;
      },
      (dOut) => {
        const rstd = zeros(N),
          [dx, dw] = [zeros(x.length), zeros(C)];
        K.rmsnormForward(zeros(N * C), rstd, x, weight, N, C, eps);
        K.rmsnormBackward(dx, dw, dOut, x, weight, rstd, N, C);
        return { x: dx, weight: dw };
      },
      rng,
    );
  });

  it("rope", () => {
    const rng = new Rng(14);
    const [T, H, HS] = [4, 2, 6],
      x = rand64(rng, T * H * HS),
      positions = Int32Array.from([0, 5, 1, 300]);
    const invFreq = Float64Array.from({ length: HS / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / HS));
    gradcheck(
      "rope",
      { x },
      () => {
        const out = zeros(x.length);
        K.ropeForward(out, x, positions, invFreq, T, H, HS);
        return out;
      },
      (dOut) => {
        const dx = zeros(x.length);
        K.ropeBackward(dx, dOut, positions, invFreq, T, H, HS);
        return { x: dx };
      },
      rng,
    );
  });

  it("causal GQA attention over ragged sequences (q, k, v), also with shared prefixes", () => {
    const rng = new Rng(15);
    // With prefixOf: a 3-token prompt continued twice (2 and 1 tokens), a plain sequence, one continuing it; the
    // prompts' dK/dV collect from every continuation.
    for (const [lengths, NH, NKV, HS, prefixOf] of [
      [[3, 1, 4], 4, 2, 3],
      [[5], 2, 1, 4],
      [[2, 0, 3], 3, 3, 2],
      [[3, 2, 1, 2, 2], 4, 2, 3, [-1, 0, 0, -1, 3]],
      [[3, 2, 1, 2, 2], 2, 2, 2, [-1, 0, 0, -1, 3]],
    ] as [number[], number, number, number, number[]?][]) {
      const shape = {
        cuSeqlens: cuSeqlens(lengths),
        NH,
        NKV,
        HS,
        scale: 1 / Math.sqrt(HS),
        ...(prefixOf && { prefixOf: Int32Array.from(prefixOf) }),
      };
      const T = shape.cuSeqlens[lengths.length];
      const q = rand64(rng, T * NH * HS),
        k = rand64(rng, T * NKV * HS),
        v = rand64(rng, T * NKV * HS);
      const fwd = (): [Float64Array, Float64Array] => {
        const out = zeros(q.length),
          lse = zeros(T * NH);
        K.attentionForward(out, lse, q, k, v, shape);
        return [out, lse];
      };
      gradcheck(
        `attention ${JSON.stringify({ lengths, NH, NKV, prefixOf })}`,
        { q, k, v },
        () => fwd()[0],
        (dOut) => {
          const [out, lse] = fwd();
          const [dq, dk, dv] = [zeros(q.length), zeros(k.length), zeros(v.length)];
          K.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, shape);
          return { q: dq, k: dk, v: dv };
        },
        rng,
      );
    }
  });

  it("swiglu, residual add, bias add", () => {
    const rng = new Rng(16);
    const [N, C] = [3, 4],
      n = N * C;
    const gate = rand64(rng, n, 2),
      up = rand64(rng, n),
      a = rand64(rng, n),
      b = rand64(rng, n),
      bias = rand64(rng, C);
    const elementwise = (f: (out: Vec) => void) => () => {
      const out = zeros(n);
      f(out);
      return out;
    };
    gradcheck(
      "swiglu",
      { gate, up },
      elementwise((o) => K.swigluForward(o, gate, up, n)),
      (dOut) => {
        const [dg, du] = [zeros(n), zeros(n)];
        K.swigluBackward(dg, du, dOut, gate, up, n);
        return { gate: dg, up: du };
      },
      rng,
    );
    gradcheck(
      "add",
      { a, b },
      elementwise((o) => K.add(o, a, b, n)),
      (dOut) => {
        const [da, db] = [zeros(n), zeros(n)];
        K.addBackward(da, db, dOut, n);
        return { a: da, b: db };
      },
      rng,
    );
    gradcheck(
      "biasAdd",
      { a, bias },
      elementwise((o) => K.biasAdd(o, a, bias, N, C)),
      (dOut) => {
        const [dx, dBias] = [zeros(n), zeros(C)];
        K.biasAddBackward(dx, dBias, dOut, N, C);
        return { a: dx, bias: dBias };
      },
      rng,
    );
  });

  it("token log-probs (gradient reaches every logit)", () => {
    const rng = new Rng(17);
    const [N, V] = [4, 7],
      logits = rand64(rng, N * V, 3),
      targets = Int32Array.from([0, 6, 3, 3]);
    const fwd = (): [Float64Array, Float64Array] => {
      const logp = zeros(N),
        lse = zeros(N);
      K.tokenLogprobsForward(logp, lse, logits, targets, N, V);
      return [logp, lse];
    };
    gradcheck(
      "tokenLogprobs",
      { logits },
      () => fwd()[0],
      (dLogp) => {
        const d = zeros(logits.length);
        K.tokenLogprobsBackward(d, dLogp, logits, targets, fwd()[1], N, V);
        return { logits: d };
      },
      rng,
    );
  });
});
