// Training-step benchmark: forward + backward + clipping + AdamW on ~1M, ~10M and ~40M-parameter models at
// sequence length 256, as tokens/s and as a fraction of the GEMM peak measured in the same process — before each
// model and once more at the end, the best of those being the ceiling, so that a slow phase of the machine during
// one measurement cannot make a step read 100 % (every measurement is printed); with the
// built-in batch-invariant GEMM and, when the addon links OpenBLAS, with OpenBLAS too (alternating, same process);
// and, when Debian's python3-torch is installed, the same steps in PyTorch CPU (bench/train_torch.py, 2 threads)
// with our/PyTorch ratios. The machine's speed drifts (the same step runs up to 2× slower minutes later), so each
// model runs SSO_BENCH_ROUNDS rounds (default 2) of the twin then ours, interleaved, and each side reports its best
// round. Ends with one JSON summary line.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../src/backends/backend.js";
import { loadCpuAddon } from "../src/backends/cpu/addon.js";
import { setCpuGemm } from "../src/backends/cpu/index.js";
import { getBackend } from "../src/backends/index.js";
import { parseConfig } from "../src/model/config.js";
import { initModel } from "../src/model/folder.js";
import { Rng } from "../src/tensor/rng.js";
import { clipGradNorm } from "../src/train/clip.js";
import { packageRoot } from "../src/util/package-root.js";
import { round, time } from "./timing.js";

export const TRAIN_BENCH = { seqLen: 256, batch: 8, steps: 3, rounds: Number(process.env.SSO_BENCH_ROUNDS ?? 2) };

/** The three benchmark models, as Hugging Face configs (shared with bench/train_torch.py through argv). */
export const TRAIN_CONFIGS: Record<string, Record<string, unknown>> = {
  "1M": {
    model_type: "qwen2",
    vocab_size: 2048,
    hidden_size: 128,
    intermediate_size: 352,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 1024,
  },
  "10M": {
    model_type: "qwen2",
    vocab_size: 8192,
    hidden_size: 384,
    intermediate_size: 1024,
    num_hidden_layers: 4,
    num_attention_heads: 6,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 1024,
  },
  "40M": {
    model_type: "llama",
    vocab_size: 16384,
    hidden_size: 512,
    intermediate_size: 1408,
    num_hidden_layers: 8,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    tie_word_embeddings: false,
    max_position_embeddings: 1024,
  },
};

/** The best 1024³ GEMM rate seen over a second of tries: the ceiling the training step is measured against. */
function gemmPeak(be: Backend): number {
  const n = 1024,
    a = new Rng(1).normalArray(n * n),
    c = new Float32Array(n * n);
  return (2 * n ** 3) / (time(() => be.matmul(c, a, a, n, n, n), 1000, 10).bestMs * 1e6);
}

/** FLOPs of one step: 6 per matmul weight per token (embedding lookups excluded) plus causal attention (×3 for backward). */
function stepFlops(raw: Record<string, unknown>, params: number, tokens: number): number {
  const c = parseConfig(raw);
  const embed = c.vocabSize * c.hiddenSize;
  const matmulParams = params - embed + (c.tieWordEmbeddings ? embed : 0) - c.hiddenSize * (2 * c.numLayers + 1);
  const pairs = (TRAIN_BENCH.batch * (TRAIN_BENCH.seqLen * (TRAIN_BENCH.seqLen + 1))) / 2;
  return 6 * matmulParams * tokens + 3 * 4 * c.headDim * c.numHeads * pairs * c.numLayers;
}

function benchOurs(be: Backend, raw: Record<string, unknown>): { params: number; msPerStep: number } {
  const config = parseConfig(raw);
  const model = initModel(config, 1, be);
  const rng = new Rng(2);
  const seqs = Array.from({ length: TRAIN_BENCH.batch }, () => ({
    ids: Array.from({ length: TRAIN_BENCH.seqLen }, () => rng.int(config.vocabSize)),
  }));
  const moments = new Map(
    [...model.params].map(([n, p]) => [n, [new Float32Array(p.length), new Float32Array(p.length)]]),
  );
  const grads = model.newGrads();
  let step = 0;
  const { medianMs } = time(
    () => {
      const { outputs, state } = model.forward(seqs, { forBackward: true });
      const count = outputs.reduce((s, o) => s + o.tokenLogps.length, 0);
      for (const g of grads.values()) g.fill(0);
      model.backward(
        state!,
        outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(-1 / count)),
        grads,
      );
      clipGradNorm(be, [...grads.values()], 1.0);
      step++;
      for (const [n, g] of grads) {
        const [m, v] = moments.get(n)!;
        be.adamw(model.params.get(n)!, g, m, v, g.length, {
          lr: 1e-4,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-8,
          weightDecay: 0.1,
          step,
        });
      }
    },
    0,
    TRAIN_BENCH.steps,
  );
  return { params: [...model.params.values()].reduce((s, p) => s + p.length, 0), msPerStep: medianMs };
}

/** Why the PyTorch twin cannot run here, or undefined when Debian's torch is importable. */
function torchMissing(): string | undefined {
  if (!existsSync("/usr/bin/python3")) return "no /usr/bin/python3";
  if (spawnSync("/usr/bin/python3", ["-c", "import torch"]).status !== 0)
    return "python3-torch not installed (apt-get install python3-torch)";
}

/** Runs the PyTorch twin on the given configs; returns ms per step by config name, or why it failed. */
function benchTorch(configs: Record<string, Record<string, unknown>>): Record<string, number> | string {
  const script = join(packageRoot(), "bench", "train_torch.py");
  const r = spawnSync("/usr/bin/python3", [script, JSON.stringify({ ...TRAIN_BENCH, configs })], { encoding: "utf8" });
  if (r.status !== 0) return `train_torch.py failed: ${r.stderr.trim().split("\n").pop()}`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
}

/** Runs fn with each GEMM the addon has (built-in, then OpenBLAS when linked), restoring the built-in one. */
function perGemm<T>(fn: () => T): { builtin: T; blas?: T } {
  const addon = loadCpuAddon();
  const hasBlas = !(addon instanceof Error) && addon.hasBlas;
  setCpuGemm("builtin");
  const builtin = fn();
  if (!hasBlas) return { builtin };
  try {
    setCpuGemm("blas");
    return { builtin, blas: fn() };
  } finally {
    setCpuGemm("builtin");
  }
}

export function benchTrain(): void {
  if (!Number.isInteger(TRAIN_BENCH.rounds) || TRAIN_BENCH.rounds < 1)
    throw new Error(`SSO_BENCH_ROUNDS must be an integer ≥ 1, got "${process.env.SSO_BENCH_ROUNDS}"`);
  const be = getBackend("cpu");
  // The GEMM rate, measured before each model and after the last one; the table uses the best of them.
  const peaks: { builtin: number; blas?: number }[] = [];
  const tokens = TRAIN_BENCH.batch * TRAIN_BENCH.seqLen;
  console.log(`train bench · batch ${TRAIN_BENCH.batch}×${TRAIN_BENCH.seqLen} tokens`);
  const missing = torchMissing();
  if (missing) console.log(`PyTorch baseline skipped: ${missing}`);
  const summary: Record<string, number | string> = { bench: "train" };
  const rows: { name: string; gemm: string; params: number; msPerStep: number; torchMs?: number }[] = [];
  for (const [name, raw] of Object.entries(TRAIN_CONFIGS)) {
    peaks.push(perGemm(() => gemmPeak(be)));
    // Rounds of the twin then ours, interleaved; each side's best round.
    let torch: Record<string, number> | string = missing ?? {};
    const runs: Record<string, { params: number; msPerStep: number }> = {};
    for (let r = 0; r < TRAIN_BENCH.rounds; r++) {
      if (typeof torch !== "string") {
        const t = benchTorch({ [name]: raw });
        torch = typeof t === "string" ? t : { [name]: Math.min(torch[name] ?? Infinity, t[name]) };
      }
      for (const [gemm, run] of Object.entries(perGemm(() => benchOurs(be, raw))))
        if (!runs[gemm] || run.msPerStep < runs[gemm].msPerStep) runs[gemm] = run;
    }
    if (typeof torch === "string" && !missing) console.log(`${name}: PyTorch twin ${torch}`);
    for (const [gemm, run] of Object.entries(runs))
      rows.push({ name, gemm, ...run, torchMs: typeof torch === "string" ? undefined : torch[name] });
  }
  peaks.push(perGemm(() => gemmPeak(be)));
  const best = (k: "builtin" | "blas") => Math.max(...peaks.map((p) => p[k] ?? 0));
  const peak = { builtin: best("builtin"), blas: peaks[0].blas === undefined ? undefined : best("blas") };
  const list = (k: "builtin" | "blas") => peaks.map((p) => round(p[k]!, 1)).join(", ");
  console.log(
    `GEMM 1024³ rate (GFLOPS) before each model and at the end: built-in ${list("builtin")}${peak.blas === undefined ? "" : `; OpenBLAS ${list("blas")}`} — "of peak" is against the best`,
  );
  summary.gemm_peak_gflops = round(peak.builtin, 1);
  summary.gemm_peak_samples = list("builtin");
  if (peak.blas !== undefined) summary.blas_gemm_peak_gflops = round(peak.blas, 1);
  console.log(
    ["model", "gemm", "params", "ms/step", "tok/s", "GFLOPS", "of peak", "torch tok/s", "ours/torch"]
      .map((h) => h.padEnd(12))
      .join(""),
  );
  for (const { name, gemm, params, msPerStep, torchMs } of rows) {
    const raw = TRAIN_CONFIGS[name];
    const gemmPeakNow = gemm === "blas" ? peak.blas! : peak.builtin;
    const tokS = tokens / (msPerStep / 1000),
      gflops = stepFlops(raw, params, tokens) / (msPerStep * 1e6);
    const cells = [
      name,
      gemm,
      `${round(params / 1e6, 1)}M`,
      round(msPerStep, 0),
      round(tokS, 0),
      round(gflops, 1),
      `${round((100 * gflops) / gemmPeakNow, 0)}%`,
      torchMs ? round(tokens / (torchMs / 1000), 0) : "-",
      torchMs ? `${round(torchMs / msPerStep, 2)}×` : "-",
    ];
    console.log(cells.map((c) => String(c).padEnd(12)).join(""));
    const key = gemm === "blas" ? `${name}_blas` : name;
    Object.assign(summary, {
      [`${key}_tok_s`]: round(tokS, 0),
      [`${key}_peak_fraction`]: round(gflops / gemmPeakNow, 3),
    });
    if (torchMs) {
      Object.assign(summary, {
        [`${name}_torch_tok_s`]: round(tokens / (torchMs / 1000), 0),
        [`${key}_ratio_vs_torch`]: round(torchMs / msPerStep, 2),
      });
    }
  }
  console.log(JSON.stringify(summary));
}
