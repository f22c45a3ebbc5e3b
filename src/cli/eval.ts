// `sso eval --model DIR (--world | --data FILE.jsonl)`: checks which flags go together, then the library's
// runModelEval (src/eval/model-eval.ts: the world's checkers or exact match, greedy answers, --out report) and
// prints its table. `sso eval pairwise | grade | math` (judged pairwise win rates, MT-Bench-style grades,
// verifiable accuracy) likewise only print here: their work is src/eval/run.ts.
import { runModelEval } from "../eval/model-eval.js";
import { gradeText, pairwiseText, rateText } from "../eval/report.js";
import {
  type GradeRunOptions,
  type MathRunOptions,
  type PairwiseRunOptions,
  runGrade,
  runMath,
  runPairwise,
} from "../eval/run.js";
import type { Split } from "../world/world.js";

export interface EvalCliOptions {
  model?: string;
  world?: boolean;
  data?: string;
  split?: string;
  n?: number;
  seed?: number;
  out?: string;
  maxNewTokens: number;
  batch: number;
  backend: string;
}

function checkOptions(opts: EvalCliOptions): asserts opts is EvalCliOptions & { model: string } {
  if (opts.model === undefined) throw new Error("eval: --model DIR is required (or use eval pairwise | grade | math)");
  if (Boolean(opts.world) === (opts.data !== undefined))
    throw new Error("eval: give exactly one of --world or --data FILE");
  if (opts.data !== undefined && (opts.split !== undefined || opts.n !== undefined || opts.seed !== undefined)) {
    throw new Error("eval: --split, --n and --seed apply to --world only");
  }
  if (opts.split !== undefined && opts.split !== "heldout" && opts.split !== "train")
    throw new Error(`eval: --split must be heldout or train, got "${opts.split}"`);
}

export function runEval(opts: EvalCliOptions): void {
  checkOptions(opts);
  console.log(runModelEval({ ...opts, split: opts.split as Split | undefined }));
  if (opts.out !== undefined) console.error(`report → ${opts.out}`);
}

// ---- `sso eval pairwise | grade | math` (the work is in src/eval/run.ts) ----

/** "N asked" and how many of those were unparsed in the cache and asked again. */
const asked = (r: { asked: number; reasked: number }) =>
  `${r.asked} asked${r.reasked ? ` (${r.reasked} unparsed before, asked again)` : ""}`;

export async function runPairwiseCli(opts: PairwiseRunOptions): Promise<void> {
  const r = await runPairwise(opts);
  console.log(pairwiseText(r.summary, r.names.model, r.names.baseline));
  const judged =
    r.names.judge === "world"
      ? "judge world (offline)"
      : `judge ${r.names.judge}: ${asked(r)}, ${r.cached} from the cache`;
  console.error(`${judged} · report → ${opts.out}${opts.html ? `, ${opts.html}` : ""}`);
}

export async function runGradeCli(opts: GradeRunOptions): Promise<void> {
  const r = await runGrade(opts);
  console.log(gradeText(r.summary));
  console.error(`judge: ${asked(r)}, ${r.cached} from the cache · report → ${opts.out}`);
}

export function runMathCli(opts: MathRunOptions): void {
  const s = runMath(opts);
  console.log(
    `accuracy % ${rateText(s.accuracy, s.accuracy_ci)}: ${s.correct} / ${s.n} correct, ${s.unextracted} without an answer in the ${opts.format} format`,
  );
  if (opts.out !== undefined) console.error(`report → ${opts.out}`);
}
