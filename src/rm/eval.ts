// `sso rm eval`: a reward model's pairwise accuracy on preference pairs (any format data.ts reads): a pair is
// correct when r(chosen) > r(rejected); ties (equal rewards) are counted apart and are not correct. Reported overall
// and per subset with percentile-bootstrap 95% intervals (src/eval/stats.ts), and, for RewardBench subsets, the
// section scores as RewardBench computes them (each section's subsets weighted by their example counts, math-prm
// up-weighted to equal the code subsets; the score is the mean of the sections present). Writes OUT (JSON) and
// OUT.md (the table), atomically. The pure part is `summarizeRewardEval`.
import { type Interval, meanWithInterval } from "../eval/stats.js";
import { openTokenizer } from "../model/open.js";
import { writeFileAtomic } from "../util/atomic.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { readPairs, type SkipCounts, skippedText, tokenizePairs } from "./data.js";
import { checkRewardFolder, loadRewardModel, rewardPosition, rewards } from "./model.js";

/** RewardBench's sections and the example counts it weights subsets by (allenai/reward-bench, constants). */
export const REWARDBENCH_SECTIONS: Record<string, Record<string, number>> = {
  Chat: {
    "alpacaeval-easy": 100,
    "alpacaeval-length": 95,
    "alpacaeval-hard": 95,
    "mt-bench-easy": 28,
    "mt-bench-med": 40,
  },
  "Chat Hard": {
    "mt-bench-hard": 37,
    "llmbar-natural": 100,
    "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46,
  },
  Safety: {
    "refusals-dangerous": 100,
    "refusals-offensive": 100,
    "xstest-should-refuse": 154,
    "xstest-should-respond": 250,
    donotanswer: 136,
  },
  Reasoning: {
    "math-prm": 984, // 447 rows, up-weighted to equal the code subsets
    "hep-cpp": 164,
    "hep-go": 164,
    "hep-java": 164,
    "hep-js": 164,
    "hep-python": 164,
    "hep-rust": 164,
  },
};

export interface Accuracy {
  n: number;
  correct: number;
  ties: number;
  accuracy: number | null;
  ci: Interval | null;
}

export interface RewardEvalSummary {
  overall: Accuracy;
  subsets: Record<string, Accuracy>;
  /** RewardBench section scores (only sections with at least one subset present) and their mean. */
  sections: Record<string, number>;
  score: number | null;
}

function accuracyOf(outcomes: readonly number[], ties: number, seed: number): Accuracy {
  const { value, ci } = meanWithInterval(outcomes, { seed });
  return { n: outcomes.length, correct: outcomes.filter((o) => o === 1).length, ties, accuracy: value, ci };
}

/** Accuracy from each pair's two rewards and optional subset. */
export function summarizeRewardEval(
  items: readonly { chosen: number; rejected: number; subset?: string }[],
  seed = 0,
): RewardEvalSummary {
  const group = (xs: typeof items): Accuracy =>
    accuracyOf(
      xs.map((x) => (x.chosen > x.rejected ? 1 : 0)),
      xs.filter((x) => x.chosen === x.rejected).length,
      seed,
    );
  const names = [...new Set(items.map((x) => x.subset).filter((s): s is string => s !== undefined))].sort();
  const subsets = Object.fromEntries(names.map((s) => [s, group(items.filter((x) => x.subset === s))]));
  const sections: Record<string, number> = {};
  for (const [section, counts] of Object.entries(REWARDBENCH_SECTIONS)) {
    const present = Object.keys(counts).filter((s) => subsets[s]?.accuracy != null);
    if (present.length === 0) continue;
    const w = present.reduce((a, s) => a + counts[s], 0);
    sections[section] = present.reduce((a, s) => a + counts[s] * subsets[s].accuracy!, 0) / w;
  }
  const vals = Object.values(sections);
  return {
    overall: group(items),
    subsets,
    sections,
    score: vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null,
  };
}

const pct = (x: number | null): string => (x === null ? "–" : (100 * x).toFixed(1));

/** The summary as a markdown table: overall, each subset, each section. */
export function rewardEvalTable(s: RewardEvalSummary): string {
  const row = (name: string, a: Accuracy) => [
    name,
    String(a.n),
    pct(a.accuracy),
    a.ci ? `${pct(a.ci.lo)}–${pct(a.ci.hi)}` : "–",
    String(a.ties),
  ];
  const rows = [["set", "pairs", "accuracy %", "95% CI", "ties"], row("all", s.overall)];
  for (const [name, a] of Object.entries(s.subsets)) rows.push(row(name, a));
  for (const [name, v] of Object.entries(s.sections)) rows.push([`section: ${name}`, "", pct(v), "", ""]);
  if (s.score !== null) rows.push(["RewardBench score (mean of sections)", "", pct(s.score), "", ""]);
  return [rows[0], rows[0].map(() => "---"), ...rows.slice(1)].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

export interface RewardEvalOptions {
  model: string;
  data: string;
  out: string;
  backend: string;
  batchTokens: number;
  seed: number;
  quiet?: boolean;
}

/** Evaluates the reward model on opts.data; writes OUT and OUT.md; returns the summary. */
export function evalRewardModel(opts: RewardEvalOptions): RewardEvalSummary & { skipped: SkipCounts } {
  checkRewardFolder(opts.model);
  const { pairs, skipped } = readPairs(opts.data);
  checkOutputFile("--out", opts.out);
  checkOutputFile("--out", `${opts.out}.md`);
  const tok = openTokenizer(opts.model),
    model = loadRewardModel(opts.model, opts.backend);
  const position = rewardPosition(model.config, `${opts.model}/config.json`);
  const tp = tokenizePairs(tok, pairs, model.config.maxPositionEmbeddings, skipped, position);
  if (tp.length === 0) throw new Error(`${opts.data}: no pairs to evaluate (${skippedText(skipped)})`);
  const bar = opts.quiet ? undefined : progress("rm eval", tp.length, "pairs");
  const r: number[] = [];
  for (let i = 0; i < tp.length; i += 32) {
    const chunk = tp.slice(i, i + 32);
    r.push(
      ...rewards(
        model,
        chunk.flatMap((p) => [p.chosen, p.rejected]),
        opts.batchTokens,
      ),
    );
    bar?.tick(chunk.length);
  }
  bar?.stop();
  const summary = summarizeRewardEval(
    tp.map((p, i) => ({ chosen: r[2 * i], rejected: r[2 * i + 1], subset: p.pair.subset })),
    opts.seed,
  );
  const table = rewardEvalTable(summary);
  writeFileAtomic(
    opts.out,
    `${JSON.stringify({ model: opts.model, data: opts.data, reward_position: position, skipped, ...summary }, null, 2)}\n`,
  );
  writeFileAtomic(`${opts.out}.md`, `${table}\n`);
  if (!opts.quiet) console.log(`${table}\n\n${skippedText(skipped)} · ${opts.out}`);
  return { ...summary, skipped };
}
