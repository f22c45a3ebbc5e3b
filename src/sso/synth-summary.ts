// The bookkeeping of SSO synthesis: what a run counted (prompts, drops per reason, features, principle sources,
// generated tokens), seconds per stage, and the summary of a finished set (kept records, lengths, timing). Pure
// data in, data out; the stages themselves live in stages.ts and their order in synth.ts.
import type { Steps } from "../engine/engine.js";
import type { FeatureLibrary } from "./features.js";
import { DROP_REASONS, type DropReason, logpOrderFilter } from "./filters.js";
import type { Principle } from "./prompts.js";
import type { SsoRecord } from "./record.js";
import type { Selection } from "./stages.js";

/** Timed parts of a run: the four model stages, writing output, and the final ordering filter. */
export const TIMED = ["select", "principles", "sample", "score", "write", "filter"] as const;
export type StageSeconds = Record<(typeof TIMED)[number], number>;
export const zeroSeconds = (): StageSeconds => ({ select: 0, principles: 0, sample: 0, score: 0, write: 0, filter: 0 });

/** What a run has seen that its kept records alone do not tell (those give kept, features_kept and lengths). */
export interface SynthCounts {
  prompts: number;
  dropped: Record<DropReason, number>;
  /** Features chosen per prompt (policy, padding and Concision), over every prompt that got features. */
  features_selected: Record<string, number>;
  /** Over those prompts' features: named by the policy, random padding, added by the Concision coin. */
  selection: { from_policy: number; padded: number; concision_added: number };
  /** Per feature: principles written by the policy or taken from the library. */
  principles: { policy: number; library: number };
  generated_tokens: number;
}

export function emptyCounts(lib: FeatureLibrary): SynthCounts {
  return {
    prompts: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    features_selected: Object.fromEntries(lib.features.map((f) => [f.name, 0])),
    selection: { from_policy: 0, padded: 0, concision_added: 0 },
    principles: { policy: 0, library: 0 },
    generated_tokens: 0,
  };
}

export const timed = <T>(seconds: StageSeconds, stage: keyof StageSeconds, fn: () => T): T => {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    seconds[stage] += (performance.now() - t0) / 1000;
  }
};

/** `timed` for steps: the stage's seconds include the time its engine calls take. */
export function* timedSteps<T>(seconds: StageSeconds, stage: keyof StageSeconds, steps: Steps<T>): Steps<T> {
  const t0 = performance.now();
  try {
    return yield* steps;
  } finally {
    seconds[stage] += (performance.now() - t0) / 1000;
  }
}

/** Adds a chunk's feature selections (null: the selection prompt did not fit) to the counts. */
export function countSelections(counts: SynthCounts, selections: readonly (Selection | null)[]): void {
  for (const s of selections) {
    if (s === null) {
      counts.dropped.too_long++;
      continue;
    }
    counts.generated_tokens += s.tokens;
    s.features.forEach((f) => (counts.features_selected[f] = (counts.features_selected[f] ?? 0) + 1));
    counts.selection.from_policy += s.fromPolicy;
    counts.selection.padded += s.padded;
    counts.selection.concision_added += s.concisionAdded ? 1 : 0;
  }
}

/** Adds a chunk's principles (and the tokens the policy wrote for them) to the counts. */
export function countPrinciples(counts: SynthCounts, principles: readonly Principle[][], tokens: number): void {
  counts.generated_tokens += tokens;
  principles.flat().forEach((pr) => counts.principles[pr.source]++);
}

/** The ordering filter over a finished set: the kept records, with the drops added to a copy of the counts. */
export function applyLogpOrder(
  records: readonly SsoRecord[],
  counts: SynthCounts,
): { records: SsoRecord[]; counts: SynthCounts } {
  const reasons = logpOrderFilter(records);
  const out = structuredClone(counts);
  reasons.forEach((r) => r && out.dropped[r]++);
  return { records: records.filter((_, i) => reasons[i] === null), counts: out };
}

export interface SynthSummary extends SynthCounts {
  kept: number;
  /** Features of the kept records. */
  features_kept: Record<string, number>;
  /** Response tokens of the kept records as scored (end-of-turn included). */
  lengths: Record<"chosen" | "rejected" | "raw", { mean: number; median: number }>;
  /** Varies between runs; everything above is determined by the inputs. */
  timing: {
    seconds: StageSeconds & { total: number };
    share: StageSeconds;
    prompts_per_minute: number;
    records_per_minute: number;
  };
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function stats(xs: readonly number[]): { mean: number; median: number } {
  if (xs.length === 0) return { mean: 0, median: 0 };
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return { mean: round(s.reduce((a, b) => a + b, 0) / s.length), median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 };
}

/** The summary of a finished set: counts, what the kept records tell, and timing. */
export function summarize(
  counts: SynthCounts,
  records: readonly Pick<SsoRecord, "features" | "chosen_n_tokens" | "rejected_n_tokens" | "raw_n_tokens">[],
  seconds: StageSeconds,
): SynthSummary {
  const features_kept = Object.fromEntries(Object.keys(counts.features_selected).map((f) => [f, 0]));
  records.forEach((r) => r.features.forEach((f) => (features_kept[f] = (features_kept[f] ?? 0) + 1)));
  const total = TIMED.reduce((s, k) => s + seconds[k], 0);
  const minutes = Math.max(total, 1e-9) / 60;
  return {
    ...counts,
    kept: records.length,
    features_kept,
    lengths: {
      chosen: stats(records.map((r) => r.chosen_n_tokens)),
      rejected: stats(records.map((r) => r.rejected_n_tokens)),
      raw: stats(records.map((r) => r.raw_n_tokens)),
    },
    timing: {
      seconds: {
        ...(Object.fromEntries(TIMED.map((k) => [k, round(seconds[k])])) as StageSeconds),
        total: round(total),
      },
      share: Object.fromEntries(TIMED.map((k) => [k, round(total > 0 ? seconds[k] / total : 0)])) as StageSeconds,
      prompts_per_minute: round(counts.prompts / minutes, 1),
      records_per_minute: round(records.length / minutes, 1),
    },
  };
}
