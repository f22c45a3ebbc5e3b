// The evaluation `sso iterate` runs after each iteration when the config names one (`iterate.eval`):
//   world  the iteration's model on seeded world prompts: the checkers' overall pass rate, and the model against
//          the initial model judged pairwise by the checkers (world-judge.ts) in both orders: win rate and LC win
//          rate with 95% intervals;
//   math   accuracy on a verifiable problem file (math.ts) with its interval.
// Answers are greedy. Each result is written next to the model (OUT/iter-k/eval.json; the initial model's world
// answers once, OUT/eval-initial.json) and read back on a rerun, so a resumed run does not evaluate twice.
// LLM-judged evaluations are not run here: they are asynchronous and need a server; run `sso eval pairwise` on
// OUT/iter-k/train/model instead.
import { existsSync, readFileSync } from "node:fs";
import { getBackend } from "../backends/index.js";
import { loadModel } from "../model/folder.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { evaluateWorld, summarizeWorld, type WorldResult } from "../world/evaluate.js";
import { samplePrompts } from "../world/world.js";
import { generateAnswers } from "./answers.js";
import type { IterationEvalConfig } from "./config.js";
import { type MathSummary, mathAccuracy, readMathData } from "./math.js";
import { type PairwiseSummary, summarizePairs } from "./pairwise.js";
import { rateText } from "./report.js";
import { judgeWorldPairs } from "./world-judge.js";

export interface IterationEval {
  world?: { overall: number | null; mean_chars: number; vs_initial: PairwiseSummary };
  math?: MathSummary;
}

function worldAnswers(dir: string, cfg: NonNullable<IterationEvalConfig["world"]>, backend: string): WorldResult[] {
  const prompts = samplePrompts(cfg.split, cfg.seed, cfg.n);
  return evaluateWorld(loadModel(dir, getBackend(backend)), Tokenizer.fromDir(dir), prompts, {
    maxNewTokens: cfg.maxNewTokens,
  }).results;
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

/** Evaluates `model` (and, once, `initial` into initialFile); writes and returns the result (cached in outFile). */
export function evaluateIteration(
  cfg: IterationEvalConfig,
  paths: { model: string; initial: string; outFile: string; initialFile: string },
  backend: string,
): IterationEval {
  if (existsSync(paths.outFile)) return JSON.parse(readFileSync(paths.outFile, "utf8")) as IterationEval;
  const result: IterationEval = {};
  if (cfg.world) {
    const w = cfg.world;
    let initial: WorldResult[];
    if (existsSync(paths.initialFile)) initial = JSON.parse(readFileSync(paths.initialFile, "utf8")) as WorldResult[];
    else {
      initial = worldAnswers(paths.initial, w, backend);
      writeFileAtomic(paths.initialFile, `${JSON.stringify(initial)}\n`);
    }
    const mine = worldAnswers(paths.model, w, backend);
    const outcomes = judgeWorldPairs(
      mine.map((r, i) => ({ instruction: r.prompt, output: r.response, baseline: initial[i].response })),
    );
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
    const responses = generateAnswers(
      loadModel(paths.model, getBackend(backend)),
      Tokenizer.fromDir(paths.model),
      items.map((it) => it.prompt),
      paths.model,
      { maxNewTokens: m.maxNewTokens },
    ).map((r) => r.output);
    result.math = mathAccuracy(items, responses, m.format, m.seed).summary;
  }
  writeFileAtomic(paths.outFile, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
