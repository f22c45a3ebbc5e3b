// 16-bit frozen weights in the kernels: a product with a bf16/fp16 B and an embedding gather from a 16-bit table must
// give, bit for bit, what the same kernel gives with the exactly widened fp32 weight (widening is exact and the
// built-in GEMM runs the same fp32 fma chain per element whatever it reads), on every shape and flag, on the decode
// path (1-2 rows) and at any thread count; `ref` (which widens up front) agrees within tolerance.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Backend, MatmulOptions } from "../../src/backends/backend.js";
import { type CpuAddon, loadCpuAddon } from "../../src/backends/cpu/addon.js";
import { getBackend } from "../../src/backends/index.js";
import { refBackend as ref } from "../../src/backends/ref/index.js";
import {
  bf16BitsToF32,
  f16BitsToF32,
  type Half,
  narrowToBf16,
  narrowToF16,
  widenWeight,
} from "../../src/tensor/dtype.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertClose, randInts, randn } from "../helpers.js";

const SHAPES: [number, number, number][] = [
  [1, 7, 33],
  [2, 33, 130],
  [7, 33, 130],
  [33, 130, 7],
  [13, 1, 517],
  [130, 517, 33],
  [1, 1000, 1001], // decode-sized, past a KC slice
  [2, 1030, 400],
  [577, 1030, 400], // past MC and NC: a last row block of one row, two column blocks
];
const DTYPES = ["bf16", "f16"] as const;

/** Random weights as 16-bit bits: normal values rounded to the format (fp16 scaled into its normal range). */
function randHalf(rng: Rng, n: number, dtype: Half["dtype"]): Half {
  const bits = new Uint16Array(n),
    x = randn(rng, n, 0.5);
  (dtype === "bf16" ? narrowToBf16 : narrowToF16)(bits, x);
  return { dtype, bits };
}

function assertBitwise(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const x = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const y = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) assert.fail(`${what}: element ${i} differs: ${actual[i]} vs ${expected[i]} (not bitwise equal)`);
}

const label = (M: number, N: number, K: number, d: string, o: MatmulOptions) =>
  `${M}×${N}×${K} ${d}${o.transA ? " tA" : ""}${o.transB ? " tB" : ""}${o.accumulate ? " acc" : ""}`;

const addon = loadCpuAddon();
const skip = addon instanceof Error ? addon.message : false;

describe("ref: a 16-bit weight is its widened fp32 twin", () => {
  it("matmul, matmulBackward's dA and the embedding gather equal the fp32 results bit for bit", () => {
    const rng = new Rng(1);
    for (const dtype of DTYPES) {
      const [M, N, K] = [5, 9, 12],
        a = randn(rng, M * K),
        w = randHalf(rng, N * K, dtype),
        wide = widenWeight(w);
      const c16 = new Float32Array(M * N),
        c32 = new Float32Array(M * N);
      ref.matmul(c16, a, w, M, N, K, { transB: true });
      ref.matmul(c32, a, wide, M, N, K, { transB: true });
      assertBitwise(c16, c32, `ref ${dtype} matmul`);
      const dC = randn(rng, M * N),
        dA16 = new Float32Array(M * K),
        dA32 = new Float32Array(M * K);
      ref.matmulBackward(dA16, null, dC, a, w, M, N, K, { transB: true });
      ref.matmulBackward(dA32, null, dC, a, wide, M, N, K, { transB: true });
      assertBitwise(dA16, dA32, `ref ${dtype} dA`);
      const ids = randInts(rng, 7, N),
        e16 = new Float32Array(7 * K),
        e32 = new Float32Array(7 * K);
      ref.embeddingForward(e16, w, ids, 7, K);
      ref.embeddingForward(e32, wide, ids, 7, K);
      assertBitwise(e16, e32, `ref ${dtype} embedding`);
    }
  });

  it("a 16-bit B takes no gradient and no transposed A: one-line error", () => {
    const w: Half = { dtype: "bf16", bits: new Uint16Array(6) };
    const z = (n: number) => new Float32Array(n);
    assert.throws(() => ref.matmulBackward(z(4), z(6), z(6), z(4), w, 2, 3, 2, { transB: true }), /frozen weight/);
    assert.throws(() => ref.matmulBackward(z(4), null, z(6), z(4), w, 2, 3, 2, { transA: true }), /frozen weight/);
  });
});

describe("cpu: 16-bit B and 16-bit embedding tables (built-in GEMM)", { skip }, () => {
  let cpu: Backend;
  let previous: CpuAddon["gemm"];
  before(() => {
    cpu = getBackend("cpu");
    previous = (addon as CpuAddon).gemm;
    (addon as CpuAddon).setGemm("builtin");
  });
  after(() => (addon as CpuAddon).setGemm(previous));

  for (const [M, N, K] of SHAPES)
    for (const dtype of DTYPES)
      it(`${M}×${N}×${K} ${dtype}: = the widened fp32 product bit for bit (tA/tB/acc), rows alone = in the batch`, () => {
        const rng = new Rng(M * 7919 + N * 31 + K + (dtype === "f16" ? 1 : 0));
        const w = randHalf(rng, K * N, dtype),
          wide = widenWeight(w);
        for (const transA of [false, true])
          for (const transB of [false, true])
            for (const accumulate of [false, true]) {
              const o = { transA, transB, accumulate },
                what = label(M, N, K, dtype, o);
              const a = randn(rng, M * K),
                c0 = randn(rng, M * N);
              const c16 = accumulate ? c0.slice() : new Float32Array(M * N),
                c32 = accumulate ? c0.slice() : new Float32Array(M * N);
              cpu.matmul(c16, a, w, M, N, K, o);
              cpu.matmul(c32, a, wide, M, N, K, o);
              assertBitwise(c16, c32, `${what} vs fp32`);
              if (M * N * K <= 1e5) {
                const r = accumulate ? c0.slice() : new Float32Array(M * N);
                ref.matmul(r, a, w, M, N, K, o);
                assertClose(c16, r, { rtol: 1e-4, atol: 1e-4 }, `${what} vs ref`);
              }
              if (!transA && M > 1)
                for (const r of new Set([0, M - 1])) {
                  // one row alone: the decode path (transposed B) or the unpacked few-row path
                  const one = accumulate ? c0.slice(r * N, (r + 1) * N) : new Float32Array(N);
                  cpu.matmul(one, a.subarray(r * K, (r + 1) * K), w, 1, N, K, o);
                  assertBitwise(one, c16.subarray(r * N, (r + 1) * N), `${what} row ${r} alone`);
                }
            }
      });

  it("M = 1 and 2 (decoding) equal rows of a 24-row GEMM on model shapes (weights transposed, bf16 and f16)", () => {
    const rng = new Rng(5);
    for (const dtype of DTYPES)
      for (const [N, K] of [
        [1408, 512],
        [517, 2048],
      ]) {
        const M = 24,
          x = randn(rng, M * K),
          w = randHalf(rng, N * K, dtype),
          c = new Float32Array(M * N);
        cpu.matmul(c, x, w, M, N, K, { transB: true });
        for (const r of [0, 11, 22]) {
          const two = new Float32Array(2 * N);
          cpu.matmul(two, x.subarray(r * K, (r + 2) * K), w, 2, N, K, { transB: true });
          assertBitwise(two, c.subarray(r * N, (r + 2) * N), `2×${N}×${K} ${dtype} rows ${r}..${r + 1}`);
        }
      }
  });

  it("batch > 1 with a 16-bit B equals each product with its widened B", () => {
    const rng = new Rng(8);
    const [M, N, K, batch] = [7, 33, 65, 3],
      a = randn(rng, batch * M * K),
      w = randHalf(rng, batch * K * N, "bf16");
    const c16 = new Float32Array(batch * M * N),
      c32 = new Float32Array(batch * M * N);
    cpu.matmul(c16, a, w, M, N, K, { transB: true, batch });
    cpu.matmul(c32, a, widenWeight(w), M, N, K, { transB: true, batch });
    assertBitwise(c16, c32, "batch 3");
  });

  it("matmulBackward through a frozen 16-bit weight: dA = the fp32 one bit for bit; asking for dB throws", () => {
    const rng = new Rng(9);
    const [M, N, K] = [19, 130, 70],
      x = randn(rng, M * K),
      w = randHalf(rng, N * K, "f16"),
      dC = randn(rng, M * N);
    const d16 = randn(rng, M * K),
      d32 = d16.slice();
    cpu.matmulBackward(d16, null, dC, x, w, M, N, K, { transB: true });
    cpu.matmulBackward(d32, null, dC, x, widenWeight(w), M, N, K, { transB: true });
    assertBitwise(d16, d32, "dA");
    assert.throws(
      () => cpu.matmulBackward(d16, new Float32Array(N * K), dC, x, w, M, N, K, { transB: true }),
      /frozen weight/,
    );
  });

  it("the embedding gather widens every one of the 65 536 bf16 and fp16 patterns exactly", () => {
    const C = 256,
      V = 65536 / C,
      bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const ids = Int32Array.from({ length: V }, (_, i) => V - 1 - i); // every row, reversed
    for (const [dtype, widen] of [
      ["bf16", bf16BitsToF32],
      ["f16", f16BitsToF32],
    ] as const) {
      const out = new Float32Array(V * C);
      cpu.embeddingForward(out, { dtype, bits }, ids, V, C);
      const got = new Uint32Array(out.buffer);
      for (let t = 0; t < V; t++)
        for (let i = 0; i < C; i++) {
          const h = bits[ids[t] * C + i],
            want = widen(h);
          // NaNs: JavaScript numbers may quiet a signalling NaN, so only NaN-ness is compared there.
          if (Number.isNaN(want)) assert.ok(Number.isNaN(out[t * C + i]), `${dtype} ${h.toString(16)}: NaN`);
          else
            assert.equal(
              got[t * C + i],
              new Uint32Array(Float32Array.of(want).buffer)[0],
              `${dtype} ${h.toString(16)}`,
            );
        }
    }
    assert.throws(
      () => cpu.embeddingForward(new Float32Array(C), { dtype: "bf16", bits }, Int32Array.of(V), 1, C),
      /outside/,
    );
  });

  it("a 16-bit product gives the same bytes under 1 and 2 threads, with the portable kernels, and as its fp32 twin", () => {
    const index = fileURLToPath(new URL("../../src/backends/index.js", import.meta.url));
    const dtypeJs = fileURLToPath(new URL("../../src/tensor/dtype.js", import.meta.url));
    const script = `
      import { createHash } from "node:crypto";
      const { getBackend } = await import(${JSON.stringify(index)});
      const { narrowToBf16, narrowToF16, widenWeight } = await import(${JSON.stringify(dtypeJs)});
      const cpu = getBackend("cpu"), hashes = [];
      for (const wide of [false, true]) {
        let s = 12345; // the fp32 twin sees the same numbers
        const rnd = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
        const h = createHash("sha256");
        for (const [M, N, K, o, dtype] of [[300, 517, 700, {}, "bf16"], [64, 1100, 33, { transB: true }, "f16"], [1, 4096, 300, { transB: true }, "bf16"], [2, 999, 1001, {}, "f16"]]) {
          const bits = new Uint16Array(K * N);
          (dtype === "bf16" ? narrowToBf16 : narrowToF16)(bits, rnd(K * N));
          const w = wide ? widenWeight({ dtype, bits }) : { dtype, bits }, c = rnd(M * N);
          cpu.matmul(c, rnd(M * K), w, M, N, K, { ...o, accumulate: true });
          h.update(new Uint8Array(c.buffer));
        }
        hashes.push(h.digest("hex"));
      }
      process.stdout.write(hashes.join(" "));`;
    const run = (threads: string, isa = "") =>
      execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, OMP_NUM_THREADS: threads, SSO_GEMM: "", SSO_GEMM_ISA: isa },
        encoding: "utf8",
      });
    const one = run("1");
    assert.match(one, /^[0-9a-f]{64} [0-9a-f]{64}$/);
    const [h16, h32] = one.split(" ");
    assert.equal(h16, h32, "16-bit vs widened fp32");
    assert.equal(run("2"), one, "2 threads vs 1");
    assert.equal(run("2", "portable"), one, "the portable kernels vs the vector ones");
  });
});
