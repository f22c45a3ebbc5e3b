// The cpu backend's built-in GEMM is batch-invariant: each output element is the same sequential fp32 fma chain over
// k whatever the number of rows (M), columns, tiles, transposes or threads. So a row of a GEMM must come out bitwise
// the same computed alone (M = 1, the decode path), in a smaller batch and in a larger one; the exactness promises
// (a sequence's log-probs independent of its batch, byte-identical resume, remote = local) rest on this.
// Also: agreement with the `ref` oracle within float tolerance, identical bytes under 1, 2 and 3 OpenMP threads, and
// the SSO_GEMM / setGemm switch.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Backend, MatmulOptions } from "../../src/backends/backend.js";
import { type CpuAddon, loadCpuAddon } from "../../src/backends/cpu/addon.js";
import { getBackend } from "../../src/backends/index.js";
import { refBackend as ref } from "../../src/backends/ref/index.js";
import { narrowToBf16, narrowToF16, type Weight } from "../../src/tensor/dtype.js";
import { Rng } from "../../src/tensor/rng.js";
import { packageRoot } from "../../src/util/package-root.js";
import { assertClose, randn } from "../helpers.js";

const SUMS = { rtol: 1e-4, atol: 1e-4 };
const SHAPES: [number, number, number][] = [
  [1, 7, 33],
  [7, 33, 130],
  [33, 130, 7],
  [130, 517, 33],
  [517, 33, 130],
  [65, 517, 517],
  [40, 100, 1],
  [3, 1, 517],
  // Past the blocking sizes (MC 288 rows, NC 1024 columns): a last row block of 1 and 2 rows, two column blocks.
  [577, 1030, 400],
  [578, 1030, 400],
];
const FLAGS: MatmulOptions[] = [];
for (const transA of [false, true])
  for (const transB of [false, true])
    for (const accumulate of [false, true]) FLAGS.push({ transA, transB, accumulate });

const addon = loadCpuAddon();
const skip = addon instanceof Error ? addon.message : false;
const label = (M: number, N: number, K: number, o: MatmulOptions) =>
  `${M}×${N}×${K}${o.transA ? " tA" : ""}${o.transB ? " tB" : ""}${o.accumulate ? " acc" : ""}${o.batch ? ` batch ${o.batch}` : ""}`;

/** Rows r0..r1 of op(A), stored as op requires (row-major M×K, or K×M when transposed). */
function rowsOf(a: Float32Array, M: number, K: number, transA: boolean, r0: number, r1: number): Float32Array {
  const m = r1 - r0,
    out = new Float32Array(m * K);
  for (let i = 0; i < m; i++)
    for (let k = 0; k < K; k++) out[transA ? k * m + i : i * K + k] = transA ? a[k * M + r0 + i] : a[(r0 + i) * K + k];
  return out;
}

/** op(A) with `extra` random rows appended, in A's storage order. */
function withExtraRows(rng: Rng, a: Float32Array, M: number, K: number, transA: boolean, extra: number): Float32Array {
  const m = M + extra,
    more = randn(rng, extra * K),
    out = new Float32Array(m * K);
  for (let i = 0; i < m; i++)
    for (let k = 0; k < K; k++) {
      const v = i < M ? (transA ? a[k * M + i] : a[i * K + k]) : more[(i - M) * K + k];
      out[transA ? k * m + i : i * K + k] = v;
    }
  return out;
}

function assertBitwise(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const x = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const y = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) assert.fail(`${what}: element ${i} differs: ${actual[i]} vs ${expected[i]} (not bitwise equal)`);
}

describe("cpu GEMM is batch-invariant (built-in GEMM)", { skip }, () => {
  let cpu: Backend;
  let previous: CpuAddon["gemm"];
  before(() => {
    cpu = getBackend("cpu");
    previous = (addon as CpuAddon).gemm;
    (addon as CpuAddon).setGemm("builtin");
  });
  after(() => (addon as CpuAddon).setGemm(previous));

  for (const [M, N, K] of SHAPES)
    for (const o of FLAGS) {
      it(`${label(M, N, K, o)}: rows alone, in smaller and larger batches, equal the full GEMM's bitwise; ref within tolerance`, () => {
        const rng = new Rng(
          M * 1_000_003 + N * 1009 + K + (o.transA ? 1 : 0) + (o.transB ? 2 : 0) + (o.accumulate ? 4 : 0),
        );
        const a = randn(rng, M * K),
          b = randn(rng, K * N),
          c0 = randn(rng, M * N);
        const full = o.accumulate ? c0.slice() : new Float32Array(M * N);
        cpu.matmul(full, a, b, M, N, K, o);

        const expected = o.accumulate ? c0.slice() : new Float32Array(M * N);
        ref.matmul(expected, a, b, M, N, K, o);
        assertClose(full, expected, SUMS, `${label(M, N, K, o)} vs ref`);

        const part = (r0: number, r1: number) => {
          const c = o.accumulate ? c0.slice(r0 * N, r1 * N) : new Float32Array((r1 - r0) * N);
          cpu.matmul(c, rowsOf(a, M, K, o.transA ?? false, r0, r1), b, r1 - r0, N, K, o);
          assertBitwise(
            c,
            full.subarray(r0 * N, r1 * N),
            `${label(M, N, K, o)} rows ${r0}..${r1 - 1} alone vs in the batch of ${M}`,
          );
        };
        for (const r of new Set([0, M >> 1, M - 1])) part(r, r + 1); // M = 1: the decode path
        if (M > 2) part(1, Math.min(M, 1 + Math.max(2, M >> 2)));
        if (M > 20) part(M - 19, M);

        for (const extra of [1, 13]) {
          const m = M + extra,
            big = withExtraRows(rng, a, M, K, o.transA ?? false, extra);
          const c = new Float32Array(m * N);
          if (o.accumulate) c.set(c0);
          cpu.matmul(c, big, b, m, N, K, o);
          assertBitwise(c.subarray(0, M * N), full, `${label(M, N, K, o)} in a batch of ${m}`);
        }
      });
    }

  it("batch > 1: each product equals the same product computed on its own", () => {
    const rng = new Rng(77);
    const cases: [number, number, number, MatmulOptions][] = [
      [7, 33, 130, {}],
      [33, 17, 65, { transB: true }],
      [1, 64, 300, { transA: true, accumulate: true }],
    ];
    for (const [M, N, K, o] of cases) {
      const batch = 3,
        a = randn(rng, batch * M * K),
        b = randn(rng, batch * K * N),
        c0 = randn(rng, batch * M * N);
      const all = c0.slice(),
        expected = c0.slice(); // without accumulate both are overwritten
      cpu.matmul(all, a, b, M, N, K, { ...o, batch });
      ref.matmul(expected, a, b, M, N, K, { ...o, batch });
      assertClose(all, expected, SUMS, `${label(M, N, K, { ...o, batch })} vs ref`);
      for (let p = 0; p < batch; p++) {
        const own = c0.slice(p * M * N, (p + 1) * M * N);
        cpu.matmul(own, a.subarray(p * M * K, (p + 1) * M * K), b.subarray(p * K * N, (p + 1) * K * N), M, N, K, o);
        assertBitwise(all.subarray(p * M * N, (p + 1) * M * N), own, `${label(M, N, K, { ...o, batch })} product ${p}`);
      }
    }
  });

  it("M = 1 and a row of a big GEMM agree on the shapes of batch-1 decoding (weights transposed)", () => {
    const rng = new Rng(5);
    for (const [N, K] of [
      [1408, 512],
      [8192, 384],
      [517, 2048],
    ]) {
      const M = 24,
        x = randn(rng, M * K),
        w = randn(rng, N * K, 0.05),
        c = new Float32Array(M * N);
      cpu.matmul(c, x, w, M, N, K, { transB: true });
      for (const r of [0, 11, 23]) {
        const one = new Float32Array(N);
        cpu.matmul(one, x.subarray(r * K, (r + 1) * K), w, 1, N, K, { transB: true });
        assertBitwise(one, c.subarray(r * N, (r + 1) * N), `1×${N}×${K} tB row ${r}`);
      }
    }
  });

  it("panels (the decoding layout) give the bits of the product with the weight itself, fp32 and 16-bit; ref agrees", () => {
    const rng = new Rng(9);
    for (const [N, K] of [
      [1, 7],
      [63, 33],
      [64, 130],
      [65, 517],
      [1408, 512],
      [517, 1100],
    ])
      for (const half of [undefined, "bf16", "f16"] as const) {
        const w32 = randn(rng, N * K, 0.05),
          bits = new Uint16Array(N * K);
        if (half) (half === "bf16" ? narrowToBf16 : narrowToF16)(bits, w32);
        const w: Weight = half ? { dtype: half, bits } : w32;
        const p = cpu.packPanels(w, N, K),
          twin = ref.packPanels(w, N, K);
        assert.deepEqual(p.panels, twin.panels, `${N}×${K} ${half ?? "f32"}: the layout of ref's packPanels`);
        for (const M of [1, 2, 3])
          for (const accumulate of [false, true]) {
            const x = randn(rng, M * K),
              c0 = randn(rng, M * N),
              want = c0.slice(),
              got = c0.slice(),
              oracle = c0.slice();
            cpu.matmul(want, x, w, M, N, K, { transB: true, accumulate });
            cpu.matmulPanels(got, x, p, M, accumulate);
            assertBitwise(got, want, `panels ${M}×${N}×${K} ${half ?? "f32"}${accumulate ? " acc" : ""}`);
            ref.matmulPanels(oracle, x, twin, M, accumulate);
            assertClose(oracle, want, SUMS, `ref panels ${M}×${N}×${K}`);
          }
      }
  });

  it("gives the same bytes under 1, 2 and 3 OpenMP threads and with the portable kernels (SSO_GEMM_ISA)", () => {
    const index = fileURLToPath(new URL("../../src/backends/index.js", import.meta.url));
    const script = `
      import { createHash } from "node:crypto";
      const { getBackend } = await import(${JSON.stringify(index)});
      const cpu = getBackend("cpu"), h = createHash("sha256");
      let s = 12345;
      const rnd = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
      for (const [M, N, K, o] of [[300, 517, 700, {}], [517, 130, 300, { transA: true }], [64, 1100, 33, { transB: true }], [1, 4096, 300, {}]]) {
        const c = rnd(M * N);
        cpu.matmul(c, rnd(M * K), rnd(K * N), M, N, K, { ...o, accumulate: true });
        h.update(new Uint8Array(c.buffer));
      }
      const p = cpu.packPanels(rnd(1100 * 300), 1100, 300), y = rnd(2 * 1100);
      cpu.matmulPanels(y, rnd(2 * 300), p, 2, true);
      h.update(new Uint8Array(y.buffer));
      process.stdout.write(h.digest("hex"));`;
    const run = (threads: string, isa = "") =>
      execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, OMP_NUM_THREADS: threads, SSO_GEMM: "", SSO_GEMM_ISA: isa },
        encoding: "utf8",
      });
    const one = run("1");
    assert.match(one, /^[0-9a-f]{64}$/);
    assert.equal(run("2"), one, "2 threads vs 1");
    assert.equal(run("3"), one, "3 threads vs 1");
    assert.equal(run("2", "portable"), one, "the portable kernels vs the vector ones");
  });
});

describe("built-in GEMM = the naive fma loop, bit for bit (C++, needs g++)", () => {
  const gxx = spawnSync("g++", ["--version"]).status === 0;
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const has = (flag: string) => new RegExp(`\\b${flag}\\b`).test(cpuinfo);
  // Each instruction set the kernels are compiled for, chosen at run time with SSO_GEMM_ISA where the CPU has it.
  const isas = [
    ["portable", "portable scalar", true],
    ["avx2", "AVX2+FMA", has("avx2") && has("fma") && has("f16c")],
    ["avx512", "AVX-512", has("avx512f") && has("avx2") && has("fma") && has("f16c")],
  ] as const;
  const builds = [
    ["-march=native", ["-march=native"]],
    ["the compiler's baseline (no -march)", []],
    // The AVX-512 build's 14-row tile (and its two-group A packing) run by the AVX2 kernels, for CPUs without AVX-512.
    ["14-row AVX2 tiles (AVX-512's MR)", ["-march=native", "-DSSO_GEMM_AVX2_MR=14", "-DSSO_GEMM_AVX2_NV=1"]],
  ] as const;
  for (const [build, flags] of builds) {
    it(`every element of the GEMM built with ${build} equals the sequential fma chain over k, on every instruction set`, {
      skip: gxx ? false : "needs g++",
    }, () => {
      const dir = mkdtempSync(join(tmpdir(), "sso-gemm-")),
        exe = join(dir, "gemm-fma-chain");
      try {
        const root = packageRoot(),
          native = ["gemm.cc", "gemm-portable.cc", "gemm-avx2.cc", "gemm-avx512.cc"].map((f) =>
            join(root, "native", "cpu", f),
          );
        const src = join(root, "test", "backends", "gemm-fma-chain.cc");
        const cc = spawnSync(
          "g++",
          [
            "-std=c++17",
            "-O2",
            ...flags,
            "-fopenmp",
            "-fno-math-errno",
            "-fno-trapping-math",
            src,
            ...native,
            "-o",
            exe,
          ],
          { encoding: "utf8" },
        );
        assert.equal(cc.status, 0, cc.stderr);
        for (const [isa, name, can] of isas) {
          if (!can) continue;
          for (const threads of ["1", "2"]) {
            const env = { ...process.env, OMP_NUM_THREADS: threads, SSO_GEMM_ISA: isa };
            const r = spawnSync(exe, [], { encoding: "utf8", env });
            assert.equal(r.status, 0, `${isa}: ${r.stdout}${r.stderr}`);
            assert.ok(r.stdout.startsWith("ok ") && r.stdout.includes(`(${name})`), `${isa}: ${r.stdout}`);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("cpu GEMM switch", { skip }, () => {
  it("defaults to the built-in GEMM, setGemm switches, SSO_GEMM=blas selects BLAS at load where linked", () => {
    const a = addon as CpuAddon;
    const previous = a.gemm;
    try {
      a.setGemm("builtin");
      assert.equal(a.gemm, "builtin");
      assert.match(a.gemmName, /batch-invariant/);
      assert.match(getBackend("cpu").description, /batch-invariant/);
      if (a.hasBlas) {
        a.setGemm("blas");
        assert.equal(a.gemm, "blas");
        assert.match(getBackend("cpu").description, /not batch-invariant/);
      } else {
        assert.throws(() => a.setGemm("blas"), /no BLAS/);
        assert.equal(a.gemm, "builtin");
      }
      assert.throws(() => a.setGemm("fast" as never), /builtin.*blas/);
    } finally {
      a.setGemm(previous);
    }
    const path = fileURLToPath(new URL("../../src/backends/cpu/addon.js", import.meta.url));
    const atLoad = (value: string) =>
      execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `const { loadCpuAddon } = await import(${JSON.stringify(path)}); process.stdout.write(loadCpuAddon().gemm);`,
        ],
        {
          env: { ...process.env, SSO_GEMM: value },
          encoding: "utf8",
        },
      );
    assert.equal(atLoad(""), "builtin");
    assert.equal(atLoad("blas"), a.hasBlas ? "blas" : "builtin");
  });
});
