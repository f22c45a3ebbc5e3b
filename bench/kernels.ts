// Kernel benchmark: GEMM GFLOPS at 1024³ and at the shapes of a 10–50M-parameter model, causal attention, and
// one decoder layer forward+backward, on every available backend. The `ref` backend runs the same work on
// smaller shapes as the in-process baseline (ratios cpu/ref); the big shapes run on the native backends only.
import os from "node:os";
import type { AttentionShape, Backend, MatmulOptions } from "../src/backends/backend.js";
import { loadCpuAddon } from "../src/backends/cpu/addon.js";
import { getBackend, probeBackends } from "../src/backends/index.js";
import {
  type LayerConfig,
  type LayerWeights,
  layerBackward,
  layerForward,
  layerParamShapes,
} from "../src/model/layer.js";
import { Rng } from "../src/tensor/rng.js";
import { round, time } from "./timing.js";

const rng = new Rng(1234);
const summary: Record<string, number | string> = { bench: "kernels" };

function gemmGflops(be: Backend, M: number, N: number, K: number, opts: MatmulOptions = {}): number {
  const a = rng.normalArray(M * K),
    b = rng.normalArray(K * N),
    c = new Float32Array(M * N);
  const { medianMs } = time(() => be.matmul(c, a, b, M, N, K, opts));
  return (2 * M * N * K) / (medianMs * 1e6);
}

/** matmulPanels (decoding's product, the weight repacked into panels) of one or two rows. */
function panelsGflops(be: Backend, M: number, N: number, K: number): number {
  const a = rng.normalArray(M * K),
    p = be.packPanels(rng.normalArray(K * N), N, K),
    c = new Float32Array(M * N);
  const { medianMs } = time(() => be.matmulPanels(c, a, p, M));
  return (2 * M * N * K) / (medianMs * 1e6);
}

/** FLOPs of causal attention, counted as the products a non-recomputing implementation does (backward = 2.5×). */
function attentionFlops(s: AttentionShape): number {
  let pairs = 0;
  for (let i = 0; i + 1 < s.cuSeqlens.length; i++) {
    const L = s.cuSeqlens[i + 1] - s.cuSeqlens[i];
    pairs += (L * (L + 1)) / 2;
  }
  return 4 * s.HS * s.NH * pairs;
}

function packed(S: number, L: number, NH: number, NKV: number, HS: number): AttentionShape {
  return { cuSeqlens: Int32Array.from({ length: S + 1 }, (_, i) => i * L), NH, NKV, HS, scale: 1 / Math.sqrt(HS) };
}

function benchAttention(be: Backend, s: AttentionShape): { fwdMs: number; bwdMs: number } {
  const T = s.cuSeqlens[s.cuSeqlens.length - 1];
  const q = rng.normalArray(T * s.NH * s.HS),
    k = rng.normalArray(T * s.NKV * s.HS),
    v = rng.normalArray(T * s.NKV * s.HS);
  const out = new Float32Array(q.length),
    lse = new Float32Array(T * s.NH),
    dOut = rng.normalArray(q.length);
  const [dq, dk, dv] = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)];
  const fwd = time(() => be.attentionForward(out, lse, q, k, v, s), 300, 2);
  const bwd = time(() => be.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, s), 300, 2);
  return { fwdMs: fwd.medianMs, bwdMs: bwd.medianMs };
}

function benchLayer(be: Backend, c: LayerConfig, S: number, L: number): number {
  const w = {} as LayerWeights;
  for (const [name, n] of Object.entries(layerParamShapes(c)) as [keyof LayerWeights, number][]) {
    if (!c.qkvBias && name.startsWith("b")) continue;
    w[name] = name.endsWith("Norm") ? new Float32Array(n).fill(1) : rng.normalArray(n, 0.02);
  }
  const T = S * L,
    shape = packed(S, L, c.NH, c.NKV, c.HS);
  const io = {
    shape,
    positions: Int32Array.from({ length: T }, (_, i) => i % L),
    invFreq: new Float32Array(c.HS / 2).map((_, i) => 1 / 10000 ** ((2 * i) / c.HS)),
  };
  const x = rng.normalArray(T * c.C),
    dOut = rng.normalArray(T * c.C);
  const grads = Object.fromEntries(
    Object.entries(w).map(([k, v]) => [k, new Float32Array(v.length)]),
  ) as unknown as LayerWeights;
  const { medianMs } = time(
    () => {
      const { acts } = layerForward(be, c, w, x, io);
      layerBackward(be, c, w, acts, io, dOut, new Float32Array(x.length), grads);
    },
    500,
    2,
  );
  return medianMs;
}

/** The cpu backend's two GEMMs side by side: the built-in batch-invariant one (default) and OpenBLAS (SSO_GEMM=blas). */
function benchGemmChoice(shapes: [string, number, number, number, MatmulOptions][]): void {
  const addon = loadCpuAddon();
  if (addon instanceof Error) return;
  const cpu = getBackend("cpu"),
    previous = addon.gemm;
  console.log(
    `\ncpu GEMM (GFLOPS): built-in batch-invariant (${addon.gemmName.replace(/.*\((.*)\)$/, "$1")}) vs ${addon.hasBlas ? addon.blasName : "no BLAS"}`,
  );
  row(["shape", "built-in", "blas", "built-in/blas"]);
  const all: [string, number, number, number, MatmulOptions][] = [
    ...shapes,
    ["decode 1×512·8192ᵀ (lm head)", 1, 8192, 512, { transB: true }],
    ["decode 1×512·1408ᵀ (mlp up)", 1, 1408, 512, { transB: true }],
    ["decode 8×512·1408ᵀ (8 sequences)", 8, 1408, 512, { transB: true }],
  ];
  try {
    for (const [label, M, N, K, opts] of all) {
      addon.setGemm("builtin");
      const builtin = gemmGflops(cpu, M, N, K, opts);
      let blas = NaN;
      if (addon.hasBlas) {
        addon.setGemm("blas");
        blas = gemmGflops(cpu, M, N, K, opts);
      }
      const show = (what: string, ours: number) =>
        row([what, round(ours, 1), addon.hasBlas ? round(blas, 1) : "-", addon.hasBlas ? round(ours / blas, 2) : "-"]);
      show(label, builtin);
      const key =
        label === "1024³" ? "gemm_1024" : `gemm_${M}x${N}x${K}${opts.transA ? "_tA" : ""}${opts.transB ? "_tB" : ""}`;
      summary[`cpu_builtin_${key}_gflops`] = round(builtin, 1);
      if (addon.hasBlas) summary[`cpu_blas_${key}_gflops`] = round(blas, 1);
      // Decoding reads its weights from panels (src/model/decode-weights.ts): the same product, another layout.
      if (M === 1 && opts.transB) {
        const panels = panelsGflops(cpu, M, N, K);
        show(`  the same from panels (decoding)`, panels);
        summary[`cpu_panels_${key}_gflops`] = round(panels, 1);
      }
    }
  } finally {
    addon.setGemm(previous);
  }
}

function row(cells: (string | number)[]): void {
  console.log(cells.map((c, i) => String(c).padEnd(i === 0 ? 44 : 14)).join(""));
}

export function benchKernels(): void {
  const backends = probeBackends().flatMap((b) => (b.backend ? [b.backend] : []));
  const native = backends.filter((b) => b.name !== "ref");
  console.log(
    `kernels bench · ${os.cpus()[0]?.model ?? "cpu"} · ${os.availableParallelism()} cores · OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? "unset"}`,
  );
  for (const be of backends) console.log(`  ${be.name}: ${be.description}`);
  for (const b of probeBackends()) if (b.error) console.log(`  ${b.name}: unavailable (${b.error})`);

  console.log("\nGEMM (GFLOPS)");
  row(["shape", ...backends.map((b) => b.name), "ratio"]);
  const small = backends.map((b) => gemmGflops(b, 256, 256, 256));
  row([
    "256³ (ref baseline)",
    ...small.map((g) => round(g, 1)),
    native.length ? `${round(small[1] / small[0], 0)}×` : "-",
  ]);
  native.forEach((b, i) => (summary[`${b.name}_gemm_256_gflops`] = round(small[i + 1], 1)));
  summary.ref_gemm_256_gflops = round(small[0], 2);
  const shapes: [string, number, number, number, MatmulOptions][] = [
    ["1024³", 1024, 1024, 1024, {}],
    ["q/o proj 2048×512·512ᵀ (C=512)", 2048, 512, 512, { transB: true }],
    ["mlp up 2048×512·1408ᵀ", 2048, 1408, 512, { transB: true }],
    ["mlp down 2048×1408·512ᵀ", 2048, 512, 1408, { transB: true }],
    ["weight grad 1408×2048ᵀ·2048×512", 1408, 512, 2048, { transA: true }],
    ["lm head 2048×512·8192ᵀ", 2048, 8192, 512, { transB: true }],
  ];
  for (const [label, M, N, K, opts] of shapes) {
    const g = native.map((b) => gemmGflops(b, M, N, K, opts));
    row([label, "-", ...g.map((x) => round(x, 1)), ""]);
    const key =
      label === "1024³" ? "gemm_1024" : `gemm_${M}x${N}x${K}${opts.transA ? "_tA" : ""}${opts.transB ? "_tB" : ""}`;
    native.forEach((b, i) => (summary[`${b.name}_${key}_gflops`] = round(g[i], 1)));
  }

  benchGemmChoice(shapes);

  console.log("\nCausal attention (ms forward / backward, GFLOPS counting backward as 2.5× forward)");
  const attSmall = packed(2, 128, 4, 2, 32);
  const smallRes = backends.map((b) => benchAttention(b, attSmall));
  row([
    "2×128 tokens, 4 heads (2 kv), hs 32",
    ...smallRes.map((r) => `${round(r.fwdMs)}/${round(r.bwdMs)}`),
    native.length
      ? `${round((smallRes[0].fwdMs + smallRes[0].bwdMs) / (smallRes[1].fwdMs + smallRes[1].bwdMs), 0)}×`
      : "-",
  ]);
  const attBig = packed(8, 256, 8, 4, 64);
  for (const b of native) {
    const r = benchAttention(b, attBig),
      f = attentionFlops(attBig);
    row([
      "8×256 tokens, 8 heads (4 kv), hs 64",
      "-",
      `${round(r.fwdMs)}/${round(r.bwdMs)}`,
      `${round(f / (r.fwdMs * 1e6), 1)}/${round((2.5 * f) / (r.bwdMs * 1e6), 1)} GFLOPS`,
    ]);
    summary[`${b.name}_attention_8x256_fwd_ms`] = round(r.fwdMs);
    summary[`${b.name}_attention_8x256_bwd_ms`] = round(r.bwdMs);
  }

  console.log("\nOne decoder layer, forward + backward (ms)");
  const tiny: LayerConfig = { C: 128, NH: 4, NKV: 2, HS: 32, FF: 352, eps: 1e-6, qkvBias: true };
  const tinyMs = backends.map((b) => benchLayer(b, tiny, 2, 64));
  row([
    "C=128 FF=352, 2×64 tokens",
    ...tinyMs.map((x) => round(x)),
    native.length ? `${round(tinyMs[0] / tinyMs[1], 0)}×` : "-",
  ]);
  summary.ref_layer_c128_ms = round(tinyMs[0]);
  const mid: LayerConfig = { C: 512, NH: 8, NKV: 4, HS: 64, FF: 1408, eps: 1e-6, qkvBias: false };
  for (const b of native) {
    const ms = benchLayer(b, mid, 8, 256);
    row(["C=512 FF=1408 (≈10–40M model), 8×256 tokens", "-", round(ms), `${round((8 * 256) / (ms / 1000), 0)} tok/s`]);
    summary[`${b.name}_layer_c128_ms`] = round(tinyMs[backends.indexOf(b)]);
    summary[`${b.name}_layer_c512_8x256_ms`] = round(ms);
  }
  console.log(JSON.stringify(summary));
}
