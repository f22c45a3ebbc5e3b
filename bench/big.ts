// `npm run bench -- big [tiny]`: real model sizes on one machine (issue 14). Five configurations with random BF16
// weights (Qwen2.5-0.5B and -1.5B shapes, written once as BF16 folders under the temp dir): SSO training steps on
// records shaped like real ones (system ~400 tokens, query ~50, responses ~200; the sso preset's six sequences) and
// a scoring pass, each in its own child process so that its peak RSS is its own, and each also in the PyTorch CPU
// twin (bench/train_torch.py, mode "sso") on the same shapes. Reports records/min, tokens/s and peak RSS per side and
// the ratio ours / twin, and ends with one JSON line. `tiny` runs the same configurations on a tiny model (a smoke
// test of this file). Both sides do the same work: the same number of records of the same shapes, the same six
// sequences (prompts shared in both or in neither), LoRA of the same rank and alpha on the same seven modules,
// recomputation in both or neither, a frozen base held 16-bit in both (LoRA, scoring) and fp32 trainable weights in
// both (full), and the same number of threads (SSO_BENCH_THREADS, default 2: OMP_NUM_THREADS for ours); trainable
// parameters and tokens per step are compared.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getBackend } from "../src/backends/index.js";
import { loadModel } from "../src/model/folder.js";
import { attachLora, baseParamNames, initLora, LoraSettings } from "../src/model/lora.js";
import { Rng } from "../src/tensor/rng.js";
import { AdamW } from "../src/train/optimizer.js";
import { packageRoot } from "../src/util/package-root.js";
import { round } from "./timing.js";

/** Qwen2.5 shapes from the issue (tied embeddings, q/k/v bias, vocabulary 151,936). */
export const SHAPES: Record<string, Record<string, unknown>> = {
  "0.5B": qwen(896, 24, 14, 2, 4864),
  "1.5B": qwen(1536, 28, 12, 2, 8960),
  tiny: qwen(64, 2, 4, 2, 128, 1000),
  /** A tiny model with Qwen's vocabulary, for the real tokenizer (`npm run bench -- iteration --quick`). */
  quick: qwen(64, 2, 4, 2, 128),
};

function qwen(hidden: number, layers: number, heads: number, kv: number, ff: number, vocab = 151936) {
  return {
    model_type: "qwen2",
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: ff,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kv,
    max_position_embeddings: 32768,
    rope_theta: 1000000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
  };
}

/** What a configuration needs beyond today's path. */
export interface BigOptions {
  /** LoRA rank (frozen base, trainable A/B on every linear layer); 0 = full fine-tuning. */
  loraR: number;
  /** Shared prompt prefixes: each prompt computed once for its responses. */
  shared: boolean;
  /** Frozen weights stay 16-bit in memory (the LoRA base; inference). */
  half: boolean;
  /** Activation recomputation (train.recompute). */
  recompute: boolean;
}

export interface BigConfig extends BigOptions {
  name: string;
  shape: string;
  kind: "train" | "score";
}

/** The issue's five configurations (LoRA: r = 16, alpha 32, all seven linear modules). */
export const BIG_CONFIGS: BigConfig[] = [
  { name: "0.5B full", shape: "0.5B", kind: "train", loraR: 0, shared: false, half: false, recompute: false },
  { name: "0.5B full shared", shape: "0.5B", kind: "train", loraR: 0, shared: true, half: false, recompute: false },
  { name: "0.5B LoRA r16 shared", shape: "0.5B", kind: "train", loraR: 16, shared: true, half: true, recompute: false },
  { name: "1.5B LoRA r16 shared", shape: "1.5B", kind: "train", loraR: 16, shared: true, half: true, recompute: true },
  { name: "1.5B BF16 score", shape: "1.5B", kind: "score", loraR: 0, shared: false, half: true, recompute: false },
];

/** Records per step (each its own forward/backward on our side) and their shape (tokens). */
export const BIG_RECORDS = {
  records: Number(process.env.SSO_BENCH_RECORDS ?? 2), // per step
  steps: Number(process.env.SSO_BENCH_STEPS ?? 2), // timed, after one warm-up step (the median is reported)
  system: 400,
  query: 50,
  response: 200,
};

/** Configurations to run: SSO_BENCH_ONLY="0.5B full,1.5B BF16 score" (names as in BIG_CONFIGS), default all. */
const ONLY = process.env.SSO_BENCH_ONLY?.split(",").map((n) => n.trim());

/** Threads of both sides. */
const THREADS = process.env.SSO_BENCH_THREADS ?? "2";

/** LoRA settings of a configuration: rank r, alpha 2r, every linear layer of attention and MLP (the twin's). */
const loraOf = (c: BigOptions) => LoraSettings.parse({ r: c.loraR, alpha: 2 * c.loraR });

/** The sso preset's six sequences of one record: x: y+, y-; x+: y+, y-; x-: y+, y° (prompt lengths, responses). */
function recordSequences(rng: Rng, vocab: number, r = BIG_RECORDS): { ids: number[]; scoreFrom: number }[] {
  const tokens = (n: number) => Array.from({ length: n }, () => rng.int(vocab));
  const plain = tokens(r.query),
    pos = [...tokens(r.system), ...plain],
    neg = [...tokens(r.system), ...plain];
  const chosen = tokens(r.response),
    rejected = tokens(r.response),
    raw = tokens(r.response);
  const seq = (p: number[], y: number[]) => ({ ids: [...p, ...y], scoreFrom: p.length });
  return [
    seq(plain, chosen),
    seq(plain, rejected),
    seq(pos, chosen),
    seq(pos, rejected),
    seq(neg, chosen),
    seq(neg, raw),
  ];
}

/** A BF16 folder of random weights for the shape, written once by `sso init-model` (in its own process, so that
 * this one never holds the fp32 weights while a configuration's child runs). */
export function modelFolder(shape: string): string {
  const root = join(tmpdir(), "sso-bench-big"),
    dir = join(root, shape);
  if (!existsSync(join(dir, "model.safetensors")) && !existsSync(join(dir, "model.safetensors.index.json"))) {
    mkdirSync(root, { recursive: true });
    const config = join(root, `${shape}.config.json`);
    writeFileSync(config, JSON.stringify(SHAPES[shape]));
    const cli = join(packageRoot(), "dist", "src", "cli", "main.js");
    const r = spawnSync(process.execPath, [cli, "init-model", "--config", config, "--out", dir, "--dtype", "bf16"], {
      stdio: "inherit",
    });
    if (r.status !== 0) throw new Error(`big bench: sso init-model for ${shape} failed`);
  }
  return dir;
}

/** Child: SSO training steps of one configuration on our engine; prints one JSON line. */
function trainChild(c: BigConfig, dir: string): Record<string, number> {
  // A LoRA base is frozen: 16-bit with c.half (no fp32 copy); full fine-tuning loads fp32 masters.
  const model = loadModel(dir, getBackend("cpu"), { keep16: c.half && c.loraR > 0 });
  if (c.loraR > 0) {
    const s = loraOf(c);
    attachLora(model, s, initLora(model.config, s, 7), "bench");
    model.freeze(baseParamNames(model.config));
  }
  const grads = model.newGrads();
  const opt = new AdamW(model.backend, model.params, grads.keys(), {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
    maxGradNorm: 1,
  });
  const rng = new Rng(1),
    n = BIG_RECORDS.records;
  const step = () => {
    for (const g of grads.values()) g.fill(0);
    let tokens = 0;
    // One record per forward/backward (train.microBatch: 1), gradients accumulating over the step's records — as
    // the twin makes one pass per prompt variant: the same work, and half the activations of one packed pass.
    for (let i = 0; i < n; i++) {
      const seqs = recordSequences(rng, model.config.vocabSize);
      const { outputs, state } = model.forward(seqs, {
        forBackward: true,
        sharePrompts: c.shared,
        recompute: c.recompute,
      });
      model.backward(
        state!,
        outputs.map((o, j) => new Float32Array(o.tokenLogps.length).fill((j % 2 ? -1 : 1) / (6 * n))),
        grads,
      );
      tokens += seqs.reduce((s, q) => s + q.ids.length, 0);
    }
    opt.update(grads, 1e-5);
    return tokens;
  };
  step(); // warm-up
  const times: number[] = [];
  let tokens = 0;
  for (let i = 0; i < BIG_RECORDS.steps; i++) {
    const t0 = performance.now();
    tokens = step();
    times.push((performance.now() - t0) / 1000);
  }
  const sec = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  return {
    trainable: [...grads.values()].reduce((a, g) => a + g.length, 0),
    halves: model.halves.size,
    tokens_per_step: tokens,
    s_per_step: round(sec, 3),
    records_per_min: round((60 * n) / sec, 3),
    tokens_per_s: round(tokens / sec, 1),
    peak_rss_gb: round(process.resourceUsage().maxRSS / 2 ** 20, 3),
  };
}

/** Records a scoring pass covers (the twin's too). */
const SCORE_RECORDS = 1;

/** Child: scoring the six sequences of a record (no gradients); peak RSS is the point. */
function scoreChild(c: BigConfig, dir: string): Record<string, number> {
  const model = loadModel(dir, getBackend("cpu"), { keep16: c.half }); // 16-bit weights, no fp32 copy
  const rng = new Rng(1),
    seqs = Array.from({ length: SCORE_RECORDS }, () => recordSequences(rng, model.config.vocabSize)).flat();
  const t0 = performance.now();
  const { outputs } = model.forward(seqs, { sharePrompts: c.shared });
  const sec = (performance.now() - t0) / 1000,
    tokens = seqs.reduce((s, q) => s + q.ids.length, 0);
  if (!outputs.every((o) => o.tokenLogps.every(Number.isFinite))) throw new Error("non-finite log-probs");
  return {
    halves: model.halves.size,
    tokens_per_s: round(tokens / sec, 1),
    peak_rss_gb: round(process.resourceUsage().maxRSS / 2 ** 20, 3),
  };
}

/** The PyTorch twin of a configuration, or why not. */
function torchTwin(c: BigConfig, shape: string): Record<string, number> | string {
  const python = "/usr/bin/python3";
  if (spawnSync(python, ["-c", "import torch"]).status !== 0) return "no /usr/bin/python3 with torch";
  const spec = {
    mode: "sso",
    config: SHAPES[shape],
    ...BIG_RECORDS,
    shared: c.shared,
    recompute: c.recompute,
    base: c.half ? "bf16" : "fp32",
    ...(c.loraR > 0 && { lora: { r: loraOf(c).r, alpha: loraOf(c).alpha } }),
    ...(c.kind === "score" && { score: true, records: SCORE_RECORDS }),
  };
  const r = spawnSync(python, [join(packageRoot(), "bench", "train_torch.py"), JSON.stringify(spec)], {
    encoding: "utf8",
    env: { ...process.env, SSO_BENCH_THREADS: THREADS },
  });
  if (r.status !== 0) return `train_torch.py failed: ${r.stderr.trim().split("\n").pop()}`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
}

/** Runs one configuration in a child process (this file with --child). */
function ours(c: BigConfig, shape: string): Record<string, number> | string {
  const dir = modelFolder(shape);
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", JSON.stringify(c), dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, OMP_NUM_THREADS: THREADS },
  });
  if (r.status !== 0) return `failed (exit ${r.status ?? r.signal})`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
}

export function benchBig(args: readonly string[] = []): void {
  const tiny = args.includes("tiny");
  const unknown = ONLY?.filter((n) => !BIG_CONFIGS.some((c) => c.name === n));
  if (unknown?.length)
    throw new Error(
      `SSO_BENCH_ONLY: no configuration ${unknown.map((n) => `"${n}"`).join(", ")} (${BIG_CONFIGS.map((c) => c.name).join(", ")})`,
    );
  console.log(
    `big bench · records of ${BIG_RECORDS.system}+${BIG_RECORDS.query} prompt / ${BIG_RECORDS.response} response tokens, six sequences, ${BIG_RECORDS.records} per step (scoring: ${SCORE_RECORDS} record) · ${THREADS} threads${tiny ? " · tiny model" : ""}`,
  );
  const summary: Record<string, number | string> = { bench: "big", threads: Number(THREADS) };
  for (const c of BIG_CONFIGS.filter((c) => !ONLY || ONLY.includes(c.name))) {
    const shape = tiny ? "tiny" : c.shape;
    const mine = ours(c, shape),
      twin = torchTwin(c, shape);
    const key = c.name.replace(/[^A-Za-z0-9.]+/g, "_");
    // Training compares records/min; scoring (one pass) tokens/s.
    const speed = c.kind === "train" ? "records_per_min" : "tokens_per_s";
    const ratio =
      typeof mine !== "string" && typeof twin !== "string" && mine[speed] && twin[speed]
        ? round(mine[speed] / twin[speed], 2)
        : undefined;
    const show = (x: Record<string, number> | string) =>
      typeof x === "string"
        ? x
        : `${x.records_per_min !== undefined ? `${x.records_per_min} rec/min, ` : ""}${x.tokens_per_s} tok/s, ${x.peak_rss_gb} GB`;
    console.log(
      `${c.name.padEnd(22)} ours: ${show(mine)} · torch: ${show(twin)} · ours/torch ${ratio ?? "-"}× (${speed === "records_per_min" ? "records/min" : "tokens/s"})`,
    );
    for (const [side, x] of [
      ["", mine],
      ["torch_", twin],
    ] as const) {
      if (typeof x === "string") summary[`${key}_${side}error`] = x;
      else for (const [k, v] of Object.entries(x)) if (k !== "threads") summary[`${key}_${side}${k}`] = v;
    }
    if (ratio !== undefined) summary[`${key}_ratio_vs_torch`] = ratio;
    // The same work: trainable parameters and tokens per step must agree.
    if (typeof mine !== "string" && typeof twin !== "string")
      for (const k of ["trainable", "tokens_per_step"])
        if (mine[k] !== twin[k]) {
          console.log(`  ${c.name}: ${k} differs (ours ${mine[k]}, torch ${twin[k]})`);
          summary[`${key}_${k}_mismatch`] = `${mine[k]} vs ${twin[k]}`;
        }
  }
  // The issue's target: 0.5B LoRA shared against today's 0.5B full unshared path, both ours.
  const before = summary["0.5B_full_records_per_min"],
    after = summary["0.5B_LoRA_r16_shared_records_per_min"];
  if (typeof before === "number" && typeof after === "number") {
    summary["0.5B_LoRA_r16_shared_vs_0.5B_full"] = round(after / before, 2);
    console.log(`0.5B LoRA r16 shared / 0.5B full (ours, records/min): ${round(after / before, 2)}×`);
  }
  console.log(JSON.stringify(summary));
}

if (process.argv[2] === "--child") {
  const c = JSON.parse(process.argv[3]) as BigConfig,
    dir = process.argv[4];
  const out = c.kind === "train" ? trainChild(c, dir) : scoreChild(c, dir);
  writeFileSync(1, `${JSON.stringify(out)}\n`);
}
