// The filters of SSO synthesis (METHOD.md §2.5). Per record: pure functions that return the reason to drop it, or
// null to keep it. The authors' log-prob ordering filter compares each record with dataset means, so it works on a
// whole set at once. No I/O, no model: the log-probs come from the record's reference columns.
import type { FinishReason } from "../sample/generate.js";
import type { PerResponse } from "./pairs.js";

/** Why a record was dropped; each dropped record is counted under its first reason. */
export const DROP_REASONS = [
  "too_long",
  "empty",
  "truncated",
  "pos_equals_neg",
  "equals_raw",
  "logp_order",
  "logp_below_mean",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * The per-record filters, in this order: any answer empty (after trimming); any answer cut by the token limit
 * (only with dropTruncated); y+ equal to y-; y+ or y- equal to y° (after trimming).
 */
export function responseFilter(
  text: PerResponse<string>,
  finish: PerResponse<FinishReason>,
  opts: { dropTruncated: boolean },
): DropReason | null {
  const t = { chosen: text.chosen.trim(), rejected: text.rejected.trim(), raw: text.raw.trim() };
  if (t.chosen === "" || t.rejected === "" || t.raw === "") return "empty";
  if (opts.dropTruncated && [finish.chosen, finish.rejected, finish.raw].includes("length")) return "truncated";
  if (t.chosen === t.rejected) return "pos_equals_neg";
  if (t.chosen === t.raw || t.rejected === t.raw) return "equals_raw";
  return null;
}

/** The reference columns the ordering filter reads (summed log-probs and response token counts). */
export interface LogpColumns {
  ref_chosen_logps: number; // (x, y+)
  ref_rejected_logps: number; // (x, y-)
  ref_pos_chosen_logps: number; // (x+, y+)
  ref_pos_rejected_logps: number; // (x+, y-)
  ref_neg_chosen_logps: number; // (x-, y+)
  ref_neg_rejected_logps: number; // (x-, y-)
  chosen_n_tokens: number;
  rejected_n_tokens: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/**
 * The log-prob ordering filter over a set, with avg = logp / tokens under the policy:
 * keep iff avg(y+|x+) > avg(y+|x) > avg(y+|x-) and avg(y-|x-) > avg(y-|x) > avg(y-|x+) (else "logp_order"), and
 * avg(y+|x), avg(y-|x) are at or above their means over the set while the margins avg(y+|x+) − avg(y+|x-) and
 * avg(y-|x-) − avg(y-|x+) are strictly above theirs (else "logp_below_mean"). Means are over the whole input set.
 */
export function logpOrderFilter(rows: readonly LogpColumns[]): (DropReason | null)[] {
  const a = rows.map((r) => {
    const c = r.chosen_n_tokens,
      j = r.rejected_n_tokens;
    return {
      posPos: r.ref_pos_chosen_logps / c,
      posPlain: r.ref_chosen_logps / c,
      posNeg: r.ref_neg_chosen_logps / c,
      negNeg: r.ref_neg_rejected_logps / j,
      negPlain: r.ref_rejected_logps / j,
      negPos: r.ref_pos_rejected_logps / j,
    };
  });
  const marginPos = a.map((v) => v.posPos - v.posNeg),
    marginNeg = a.map((v) => v.negNeg - v.negPos);
  const meanPosPlain = mean(a.map((v) => v.posPlain)),
    meanNegPlain = mean(a.map((v) => v.negPlain));
  const meanMarginPos = mean(marginPos),
    meanMarginNeg = mean(marginNeg);
  return a.map((v, i) => {
    if (!(v.posPos > v.posPlain && v.posPlain > v.posNeg && v.negNeg > v.negPlain && v.negPlain > v.negPos))
      return "logp_order";
    if (
      !(
        v.posPlain >= meanPosPlain &&
        v.negPlain >= meanNegPlain &&
        marginPos[i] > meanMarginPos &&
        marginNeg[i] > meanMarginNeg
      )
    )
      return "logp_below_mean";
    return null;
  });
}
