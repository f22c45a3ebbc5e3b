// Pairwise evaluation against a baseline: each item (an instruction, the model's answer, the baseline's) is judged
// twice, once with the model's answer shown first and once with the baseline's, to cancel the judge's position
// bias. The model's preference in one order is 1 (its answer chosen), 0 (the baseline's) or ½ (a tie); the item's
// preference is the mean of the two orders (so 1, ¾, ½, ¼ or 0). An item with an unparsed verdict in either order is
// "unparsed": counted and reported, left out of the rates, never a tie. The summary: wins / losses / ties, how often
// the two orders disagreed, the win rate (mean preference, ties count half, as AlpacaEval) and the length-controlled
// win rate (stats.ts), each with a bootstrap 95% interval from a seed, and mean lengths.
import { pool } from "../remote/http.js";
import type { ChatJudge } from "./client.js";
import { ask, type Judgment, type JudgmentCache } from "./judge.js";
import { PAIRWISE_FIX, pairwiseMessages, parseVerdict, type Verdict } from "./prompts.js";
import { type BootstrapOptions, type Interval, lengthControlledWithInterval, mean, meanWithInterval } from "./stats.js";

/** One instruction with the model's and the baseline's answers. */
export interface PairItem {
  instruction: string;
  output: string;
  baseline: string;
  /** The instruction's difficulty for the LC regression, when known. */
  difficulty?: number;
}

/** Judges which of two answers (shown as A and B) to an instruction is better. */
export interface PairJudge {
  readonly id: string;
  compare(instruction: string, a: string, b: string): Promise<Judgment<Verdict>>;
}

/** A language-model judge with our prompt, through the cache. */
export const llmPairJudge = (chat: ChatJudge, cache: JudgmentCache): PairJudge => ({
  id: chat.id,
  compare: (instruction, a, b) => ask(chat, cache, pairwiseMessages(instruction, a, b), parseVerdict, PAIRWISE_FIX),
});

/** The model's preference from one verdict: A/B is the model's answer when it was shown first/second. */
export function modelPreference(verdict: Verdict, modelFirst: boolean): number {
  if (verdict === "tie") return 0.5;
  return (verdict === "A") === modelFirst ? 1 : 0;
}

export interface PairOutcome extends PairItem {
  /** Verdict with the model's answer as A, and with the baseline's as A (null = unparsed). */
  model_first: Verdict | null;
  baseline_first: Verdict | null;
  /** Mean of the two orders' preferences for the model; null when either is unparsed. */
  preference: number | null;
  /** The judge's replies, model-first then baseline-first. */
  replies: string[][];
}

/** Combines the two orders' verdicts into the item's preference (null when either is unparsed). */
export function combineOrders(modelFirst: Verdict | null, baselineFirst: Verdict | null): number | null {
  if (modelFirst === null || baselineFirst === null) return null;
  return (modelPreference(modelFirst, true) + modelPreference(baselineFirst, false)) / 2;
}

export interface PairwiseOptions {
  /** Items judged at once (default 8); each sends its two orders one after the other. */
  concurrency?: number;
  onItem?: () => void;
}

/** An item's outcome from its two judgments: model first, then baseline first. */
export function pairOutcome(it: PairItem, first: Judgment<Verdict>, second: Judgment<Verdict>): PairOutcome {
  return {
    ...it,
    model_first: first.value,
    baseline_first: second.value,
    preference: combineOrders(first.value, second.value),
    replies: [first.replies, second.replies],
  };
}

/** Judges every item in both orders; outcomes in item order. */
export function judgePairs(
  items: readonly PairItem[],
  judge: PairJudge,
  opts: PairwiseOptions = {},
): Promise<PairOutcome[]> {
  return pool(items, opts.concurrency ?? 8, async (it): Promise<PairOutcome> => {
    const first = await judge.compare(it.instruction, it.output, it.baseline);
    const second = await judge.compare(it.instruction, it.baseline, it.output);
    opts.onItem?.();
    return pairOutcome(it, first, second);
  });
}

export interface PairwiseSummary {
  n: number;
  /** Items with both orders parsed (what the rates are over). */
  judged: number;
  unparsed: number;
  /** Preference > ½, < ½, = ½. */
  wins: number;
  losses: number;
  ties: number;
  /** Judged items whose two orders gave different preferences (position bias at work). */
  inconsistent: number;
  /** Rates in [0, 1]; null when nothing was judged. */
  win_rate: number | null;
  win_rate_ci: Interval | null;
  lc_win_rate: number | null;
  lc_win_rate_ci: Interval | null;
  /** The LC regression's weights (model, length, instruction). */
  lc_weights: { model: number; length: number; instruction: number } | null;
  mean_chars: number | null;
  baseline_mean_chars: number | null;
}

/** The summary of judged outcomes; intervals are percentile bootstraps over items with `opts.seed`. */
export function summarizePairs(outcomes: readonly PairOutcome[], opts: BootstrapOptions = {}): PairwiseSummary {
  const judged = outcomes.filter((o): o is PairOutcome & { preference: number } => o.preference !== null);
  const prefs = judged.map((o) => o.preference);
  const rate = meanWithInterval(prefs, opts);
  const lc = lengthControlledWithInterval(
    judged.map((o) => ({
      preference: o.preference,
      modelLength: o.output.length,
      baselineLength: o.baseline.length,
      ...(o.difficulty === undefined ? {} : { difficulty: o.difficulty }),
    })),
    opts,
  );
  return {
    n: outcomes.length,
    judged: judged.length,
    unparsed: outcomes.length - judged.length,
    wins: prefs.filter((p) => p > 0.5).length,
    losses: prefs.filter((p) => p < 0.5).length,
    ties: prefs.filter((p) => p === 0.5).length,
    inconsistent: judged.filter(
      (o) => modelPreference(o.model_first!, true) !== modelPreference(o.baseline_first!, false),
    ).length,
    win_rate: rate.value,
    win_rate_ci: rate.ci,
    lc_win_rate: lc.fit?.lc ?? null,
    lc_win_rate_ci: lc.ci,
    lc_weights: lc.fit?.weights ?? null,
    mean_chars: outcomes.length ? mean(outcomes.map((o) => o.output.length)) : null,
    baseline_mean_chars: outcomes.length ? mean(outcomes.map((o) => o.baseline.length)) : null,
  };
}
