// `sso demo` / `npm run demo`: SSO end to end on the embedded model and principle world. Evaluates the base model
// on held-out world prompts, runs the SSO loop (and the comparison methods) on training prompts, evaluates each
// iteration, prints the comparison table and writes OUT/report.html, OUT/demo.json and OUT/aligned-model.
// Every stage is a resumable SSO loop (src/sso/iterate.ts) under OUT/<method>, so rerunning the command continues.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { SsoConfig } from "../config.js";
import { summarizePairs } from "../eval/pairwise.js";
import { sideBySide } from "../eval/report.js";
import { worldVersus } from "../eval/world-judge.js";
import { openModel } from "../model/open.js";
import { validate } from "../sso/file.js";
import { runIterate } from "../sso/iterate.js";
import { PRESETS } from "../sso/objective.js";
import { SsoRecord } from "../sso/record.js";
import { readMetrics } from "../train/metrics.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/files.js";
import { readJsonl } from "../util/jsonl.js";
import { packageRoot } from "../util/package-root.js";
import { progress } from "../util/progress.js";
import { meanPass, WORLD_FEATURES } from "../world/check.js";
import {
  evaluateWorld,
  judgePairs,
  type PairJudgement,
  type WorldResult,
  type WorldSummary,
} from "../world/evaluate.js";
import { heldOutPool, heldOutPrompts, promptLines, trainPrompts, type WorldPrompt } from "../world/world.js";
import { familyPairedRows, familyRows } from "./families.js";
import {
  comparisonRows,
  type DemoResult,
  htmlReport,
  iterationRows,
  lengthRows,
  type MethodRun,
  markdownTable,
  meanStdRows,
  pairedRows,
  pairRows,
  textTable,
  versusBaseMeanStdRows,
  versusBaseRows,
} from "./report.js";

export const DEFAULT_METHODS = ["sso", "pbaa"];
export const FULL_METHODS = ["sso", "pbaa", "sso-no-w", "sso-no-g", "sso-backdoor", "sso-dpo"];
/** Methods that are a pipeline rather than an objective preset: the policy's objective and the loop's mode. */
export const PIPELINES: Record<string, { preset: string; mode: "v2" }> = {
  // METHOD.md §3 v2: a generator (sso-v2-generator objective) writes the pairs; the policy trains with plain IPO.
  "sso-v2": { preset: "ipo", mode: "v2" },
};

export interface DemoOptions {
  model?: string;
  out: string;
  full: boolean;
  seed: number;
  iterations: number;
  trainPrompts: number;
  evalPrompts: number;
  /** Evaluate on the whole held-out pool (every prompt once, the same for every seed) instead of `evalPrompts`
   * seeded draws; default: on with `full`. */
  evalPool?: boolean;
  backend: string;
  lr: number;
  /** IPO/DPO β of every method (default: the presets' 0.1). */
  beta?: number;
  /** Methods to run instead of the default or --full list. */
  methods?: string[];
  maxNewTokens: number;
  /** Run the whole demo once per seed (OUT/seed-S) and summarise mean ± std; overrides `seed`. */
  seeds?: number[];
}

export const defaultDemoModel = (): string => join(packageRoot(), "models", "sso-demo");

function evaluate(
  dir: string,
  label: string,
  prompts: readonly WorldPrompt[],
  o: DemoOptions,
): { summary: WorldSummary; results: WorldResult[] } {
  const { model, tok } = openModel(dir, { backend: o.backend, keep16: true });
  const bar = progress(`eval ${label}`, prompts.length, "prompts");
  try {
    return evaluateWorld(model, tok, prompts, { maxNewTokens: o.maxNewTokens, onAnswer: () => bar.tick(1) });
  } finally {
    bar.stop();
  }
}

/** The demo's numeric options, checked before any work. */
const DemoSettings = z.object({
  iterations: z.number().int().positive(),
  trainPrompts: z.number().int().positive(),
  evalPrompts: z.number().int().positive(),
  maxNewTokens: z.number().int().positive(),
  lr: z.number().positive(),
  beta: z.number().positive().optional(),
});

/** The config of one method's SSO loop: the demo's small-model settings plus the method's preset. */
export function methodConfig(o: DemoOptions, method: string): SsoConfig {
  return validate(
    {
      backend: o.backend,
      synth: { seed: o.seed, batch: 16, sampling: { maxNewTokens: o.maxNewTokens }, selection: { maxNewTokens: 16 } },
      train: {
        objective: { preset: PIPELINES[method]?.preset ?? method, ...(o.beta === undefined ? {} : { beta: o.beta }) },
        lr: o.lr,
        batchSize: 8,
        microBatch: 4,
        epochs: 1,
        seed: o.seed,
        saveEvery: 0,
      },
      iterate: { iterations: o.iterations, ...(PIPELINES[method] && { mode: PIPELINES[method].mode }) },
    },
    SsoConfig,
    `demo: method ${method}`,
  );
}

/** Each iteration's synthesised records judged by the world's checkers (does y+ beat y- and y° there?). */
function judgedPairs(dir: string, iterations: number): PairJudgement[] {
  return Array.from({ length: iterations }, (_, i) =>
    judgePairs(
      readJsonl(join(dir, `iter-${i + 1}`, "data.jsonl"), SsoRecord).map(({ value: r }) => ({
        prompt: r.prompt[r.prompt.length - 1].content,
        chosen: r.chosen[0].content,
        rejected: r.rejected[0].content,
        raw: r.raw[0].content,
      })),
    ),
  );
}

function trainSteps(dir: string, iterations: number): MethodRun["steps"] {
  const steps: MethodRun["steps"] = [];
  for (let k = 1; k <= iterations; k++) {
    for (const m of readMetrics(join(dir, `iter-${k}`, "train", "metrics.jsonl")))
      steps.push({ loss: m.loss, W: m["sso/W"], G: m["sso/G"], iteration: k });
  }
  return steps;
}

/** Each answer's mean pass over its applicable features (0 when none applies). */
const scoresOf = (results: readonly WorldResult[]): number[] => results.map((r) => meanPass(r.checks) ?? 0);

export function runDemo(o: DemoOptions): DemoResult {
  validate(o, DemoSettings, "demo");
  const modelDir = o.model ?? defaultDemoModel();
  if (!existsSync(join(modelDir, "config.json")))
    throw new Error(`${modelDir}: no demo model here (run \`npm run make-demo-model\` to build it)`);
  mkdirSync(o.out, { recursive: true });
  const train = trainPrompts(o.seed, o.trainPrompts),
    heldout = (o.evalPool ?? o.full) ? heldOutPool() : heldOutPrompts(o.seed, o.evalPrompts);
  const promptsFile = join(o.out, "prompts.jsonl");
  writeFileAtomic(promptsFile, promptLines(train));
  const unknown = (o.methods ?? []).filter((m) => !(m in PRESETS || m in PIPELINES));
  if (unknown.length > 0)
    throw new Error(
      `--methods: unknown method ${unknown[0]} (one of ${[...Object.keys(PRESETS), ...Object.keys(PIPELINES)].join(", ")})`,
    );
  const t0 = performance.now(),
    methods = o.methods ?? (o.full ? FULL_METHODS : DEFAULT_METHODS);
  const configs = methods.map((m) => methodConfig(o, m));
  console.error(
    `sso demo: ${modelDir}, ${train.length} training prompts, ${heldout.length} held-out prompts, ${o.iterations} iterations, methods: ${methods.join(", ")}`,
  );
  const base = evaluate(modelDir, "base", heldout, o);
  const runs: MethodRun[] = [];
  let judgeMs = 0,
    sample = "";
  for (const [i, method] of methods.entries()) {
    const dir = join(o.out, method);
    console.error(`— ${method}`);
    runIterate({ model: modelDir, prompts: promptsFile, out: dir, config: configs[i] });
    const evals = Array.from({ length: o.iterations }, (_, i) =>
      evaluate(join(dir, `iter-${i + 1}`, "train", "model"), `${method} it${i + 1}`, heldout, o),
    );
    const tj = performance.now(),
      outcomes = worldVersus(evals[evals.length - 1].results, base.results),
      vs_base = summarizePairs(outcomes, { seed: o.seed });
    judgeMs += performance.now() - tj;
    if (i === 0) sample = sideBySide(outcomes, { model: method, baseline: "base" }, 10, o.seed);
    runs.push({
      method,
      evals: evals.map((e) => e.summary),
      steps: trainSteps(dir, o.iterations),
      pairs: judgedPairs(dir, o.iterations),
      vs_base,
      scores: scoresOf(evals[evals.length - 1].results),
    });
  }
  console.error(`pairwise judging vs base (world checkers, both orders, bootstrap CIs): ${judgeMs.toFixed(0)} ms`);
  const result: DemoResult = {
    base: base.summary,
    runs,
    features: [...WORLD_FEATURES],
    prompt_ids: heldout.map((p) => p.id),
    base_scores: scoresOf(base.results),
  };
  const minutes = ((performance.now() - t0) / 60000).toFixed(1);
  const notes = `Seed ${o.seed}; ${train.length} training prompts; ${heldout.length} held-out prompts (${(o.evalPool ?? o.full) ? "the whole pool" : "seeded draws"}; never in training); ${o.iterations} iterations; ${minutes} min on ${o.backend}.`;
  writeFileAtomic(
    join(o.out, "report.html"),
    htmlReport(result, "sso demo: Self-Steering Optimization in the principle world", notes, sample),
  );
  writeFileAtomic(join(o.out, "demo.json"), `${JSON.stringify({ options: o, ...result }, null, 2)}\n`);
  const aligned = join(o.out, "aligned-model"),
    alignedFrom = methods.includes("sso") ? "sso" : methods[0];
  rmSync(aligned, { recursive: true, force: true });
  cpSync(join(o.out, alignedFrom, `iter-${o.iterations}`, "train", "model"), aligned, { recursive: true });
  console.log(`\nHeld-out world evaluation, pass rate % after ${o.iterations} iterations (${notes})\n`);
  console.log(textTable(comparisonRows(result)));
  console.log(`\nAgainst the base model, judged pairwise by the world's checkers in both orders (% with 95% CI)\n`);
  console.log(textTable(versusBaseRows(result)));
  console.log(`\nreport: ${join(o.out, "report.html")} · aligned model: ${aligned}`);
  console.log(`live dashboard of this run (curves, records, evaluations): ${uiCommand(o.out)}`);
  return result;
}

/** The command that opens `sso ui` on a run folder (quoted when the path needs it). */
export const uiCommand = (out: string): string =>
  `npx sso ui --runs ${/^[\w./-]+$/.test(out) ? out : `'${out.replace(/'/g, "'\\''")}'`}`;

/**
 * A seed whose demo already finished with these very options (OUT/seed-S/demo.json): its result, so that seeds can
 * run in separate processes (each `--seeds` a part of the list) and a last run over all of them only summarises.
 */
function finishedSeed(o: DemoOptions): DemoResult | undefined {
  const file = join(o.out, "demo.json");
  if (!existsSync(file)) return undefined;
  const { options, ...result } = readJson(file) as { options: unknown } & DemoResult;
  if (JSON.stringify(options) !== JSON.stringify(o)) return undefined;
  console.error(`sso demo: seed ${o.seed} already finished with these options (${file})`);
  return result;
}

/** The demo once per seed under OUT/seed-S, then the table as mean ± std over the seeds (printed, and written as
 * OUT/summary.md next to OUT/summary.json). */
export function runDemoSeeds(o: DemoOptions & { seeds: number[] }): DemoResult[] {
  if (o.seeds.length === 0) throw new Error("--seeds: give at least one seed");
  const results = o.seeds.map((seed) => {
    const one = { ...o, seed, seeds: undefined, out: join(o.out, `seed-${seed}`) };
    return finishedSeed(one) ?? runDemo(one);
  });
  const table = meanStdRows(results);
  const perSeed = results.map((r, i) => `seed ${o.seeds[i]}:\n\n${markdownTable(iterationRows(r))}`).join("\n\n");
  const vs = versusBaseMeanStdRows(results),
    lengths = lengthRows(results);
  const methods = results[0].runs.map((r) => r.method);
  // The paired differences need the same prompts in every seed: the whole held-out pool, not seeded draws.
  const paired = methods.includes("sso") && (o.evalPool ?? o.full) ? pairedRows(results) : undefined;
  const pairedMd = paired
    ? `Paired difference against SSO, final iteration, per (seed, prompt) in points, 95% paired bootstrap over seeds × prompts (10,000 resamples, seed 0):\n\n${markdownTable(paired)}\n\n`
    : "";
  // Per family (issue 33): pass rates whenever per-prompt scores exist; paired against SSO where the overall is.
  const perPrompt = results.every((r) => r.prompt_ids && r.base_scores && r.runs.every((x) => x.scores));
  const familyMd =
    (perPrompt
      ? `Pass rate % per prompt family (prompts in brackets), final iteration, mean ± std over seeds:\n\n${markdownTable(familyRows(results))}\n\n`
      : "") +
    (paired
      ? `Paired difference against SSO per family, per (seed, prompt) in points, 95% paired bootstrap over seeds × prompts (10,000 resamples, seed 0):\n\n${markdownTable(familyPairedRows(results))}\n\n`
      : "");
  const md =
    `Held-out world pass rate %, mean ± std over seeds ${o.seeds.join(", ")} (final iteration)\n\n${markdownTable(table)}\n\n` +
    pairedMd +
    familyMd +
    `Mean answer length (characters) per iteration, mean over seeds (0 = base), and growth:\n\n${markdownTable(lengths)}\n\n` +
    `Against the base model (world checkers as pairwise judge, both orders), %, mean ± std over seeds:\n\n${markdownTable(vs)}\n\n` +
    `Self-steered pairs judged by the checkers, per seed:\n\n${results.map((r, i) => `seed ${o.seeds[i]}:\n\n${markdownTable(pairRows(r))}`).join("\n\n")}\n\n` +
    `Overall pass rate per iteration (0 = base):\n\n${perSeed}\n`;
  writeFileAtomic(join(o.out, "summary.md"), md);
  writeFileAtomic(join(o.out, "summary.json"), `${JSON.stringify({ options: o, results }, null, 2)}\n`);
  console.log(`\nHeld-out world evaluation, mean ± std over seeds ${o.seeds.join(", ")}\n`);
  console.log(textTable(table));
  console.log(`\nAgainst the base model (world checkers as pairwise judge), mean ± std over seeds\n`);
  console.log(textTable(vs));
  if (paired) {
    console.log(`\nPaired difference against SSO (points, 95% bootstrap over seeds × prompts)\n`);
    console.log(textTable(paired));
  }
  console.log(`\nMean answer length per iteration (characters, mean over seeds)\n`);
  console.log(textTable(lengths));
  console.log(`\nsummary: ${join(o.out, "summary.md")}`);
  console.log(`live dashboard of these runs: ${uiCommand(o.out)}`);
  return results;
}
