// The evaluation `sso iterate` runs after each iteration when the config names one (`iterate.eval`):
//   world  the iteration's model on seeded world prompts: the checkers' overall pass rate, and the model against
//          the initial model judged pairwise by the checkers (world-judge.ts) in both orders: win rate and LC win
//          rate with 95% intervals;
//   math   accuracy on a verifiable problem file (math.ts) with its interval.
// Answers are greedy. Each result is written next to the model (OUT/iter-k/eval.json; the initial model's world
// answers once, OUT/eval-initial.json) with the config that made it, and read back on a rerun only when that config
// is the same, so a resumed run does not evaluate twice and a changed evaluation is recomputed, never mixed.
// LLM-judged evaluations are not run here: they are asynchronous and need a server; run `sso eval pairwise` on
// OUT/iter-k/train/model instead.
import { existsSync, readFileSync } from "node:fs";
import { openModel } from "../model/open.js";
import { writeFileAtomic } from "../util/atomic.js";
import { evaluateWorld, summarizeWorld, type WorldResult } from "../world/evaluate.js";
import { samplePrompts } from "../world/world.js";
import { generateAnswers } from "./answers.js";
import type { IterationEvalConfig } from "./config.js";
import { type MathSummary, mathAccuracy, readMathData } from "./math.js";
import { type PairwiseSummary, summarizePairs } from "./pairwise.js";
import { rateText } from "./report.js";
import { worldVersus } from "./world-judge.js";

export interface IterationEval {
  world?: { overall: number | null; mean_chars: number; vs_initial: PairwiseSummary };
  math?: MathSummary;
}

function worldAnswers(dir: string, cfg: NonNullable<IterationEvalConfig["world"]>, backend: string): WorldResult[] {
  const prompts = samplePrompts(cfg.split, cfg.seed, cfg.n);
  const { model, tok } = openModel(dir, { backend, keep16: true });
  return evaluateWorld(model, tok, prompts, { maxNewTokens: cfg.maxNewTokens }).results;
}

/** One line for people: "iteration k eval: world overall …%, vs initial: win rate … [CI], LC … [CI]; math …". */
export function iterationEvalLine(k: number, e: IterationEval): string {
  const parts: string[] = [];
  if (e.world)
    parts.push(
      `world overall ${e.world.overall === null ? "–" : (100 * e.world.overall).toFixed(1)}%, vs initial: win rate ${rateText(e.world.vs_initial.win_rate, e.world.vs_initial.win_rate_ci)}, LC ${rateText(e.world.vs_initial.lc_win_rate, e.world.vs_initial.lc_win_rate_ci)}`,
    );
  if (e.math)
    parts.push(`math accuracy ${rateText(e.math.accuracy, e.math.accuracy_ci)} (${e.math.correct}/${e.math.n})`);
  return `iteration ${k} eval: ${parts.join("; ")}`;
}

/** The value cached in file for this config, or compute() written there with it (atomically). */
function cached<T>(file: string, config: unknown, compute: () => T): T {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { config?: unknown; value?: T };
    if (JSON.stringify(saved.config) === JSON.stringify(config) && saved.value !== undefined) return saved.value;
  }
  const value = compute();
  writeFileAtomic(file, `${JSON.stringify({ config, value }, null, 2)}\n`);
  return value;
}

/** Evaluates `model` (and, once per world config, `initial` into initialFile); cached in outFile per config. */
/** The loop's evaluator for iterate.eval (undefined when none is configured): evaluates, prints one line, returns
 *  what goes into the iteration's summary. */
export function iterationEvaluator(
  cfg: IterationEvalConfig | undefined,
  backend: string,
):
  | ((k: number, paths: { model: string; initial: string; outFile: string; initialFile: string }) => IterationEval)
  | undefined {
  if (!cfg) return undefined;
  return (k, paths) => {
    const e = evaluateIteration(cfg, paths, backend);
    console.error(iterationEvalLine(k, e));
    return e;
  };
}

export function evaluateIteration(
  cfg: IterationEvalConfig,
  paths: { model: string; initial: string; outFile: string; initialFile: string },
  backend: string,
): IterationEval {
  return cached(paths.outFile, cfg, () => computeIteration(cfg, paths, backend));
}

function computeIteration(
  cfg: IterationEvalConfig,
  paths: { model: string; initial: string; outFile: string; initialFile: string },
  backend: string,
): IterationEval {
  const result: IterationEval = {};
  if (cfg.world) {
    const w = cfg.world;
    const initial = cached(paths.initialFile, w, () => worldAnswers(paths.initial, w, backend));
    const mine = worldAnswers(paths.model, w, backend);
    const outcomes = worldVersus(mine, initial);
    const summary = summarizeWorld(mine);
    result.world = {
      overall: summary.overall,
      mean_chars: summary.mean_chars,
      vs_initial: summarizePairs(outcomes, { seed: w.seed }),
    };
  }
  if (cfg.math) {
    const m = cfg.math,
      items = readMathData(m.data);
    const { model, tok } = openModel(paths.model, { backend, keep16: true });
    const responses = generateAnswers(
      model,
      tok,
      items.map((it) => it.prompt),
      paths.model,
      { maxNewTokens: m.maxNewTokens },
    ).map((r) => r.output);
    result.math = mathAccuracy(items, responses, m.format, m.seed).summary;
  }
  return result;
}
