// One chosen row per sequence on the trunk (trunk.ts): the final-norm hidden state of one token per sequence (a
// reward model pools its last token, src/rm/), with no LM head, and the reverse pass from d(loss)/d(those states).
// Callers use it through `Model`.
import { packBatch } from "./pack.js";
import type { Params } from "./params.js";
import type { Trunk, TrunkState } from "./trunk.js";

/** What forwardRows keeps for backwardRows: the trunk's state and each sequence's chosen packed row. */
export interface RowsState extends TrunkState {
  rows: Int32Array;
}

/**
 * The final-norm hidden state of one chosen token per sequence (a reward model pools its last non-padding
 * token), as an (S, C) array; no LM head runs. With `forBackward`, also the state backwardRows() needs (valid
 * until the next forward({forBackward}) or forwardRows({forBackward}) call).
 */
export function forwardRows(
  t: Trunk,
  seqs: readonly { ids: ArrayLike<number>; row: number }[],
  opts: { forBackward?: boolean } = {},
): { hidden: Float32Array; state?: RowsState } {
  const C = t.config.hiddenSize,
    S = seqs.length;
  const { ids, io } = packBatch(
    t.config,
    t.invFreq,
    seqs.map((q) => ({ ids: q.ids, scoreFrom: Math.max(q.ids.length, 1) })),
  );
  const rows = Int32Array.from(seqs, (q, s) => {
    if (!Number.isInteger(q.row) || q.row < 0 || q.row >= q.ids.length)
      throw new Error(`sequence ${s}: row ${q.row} outside [0, ${q.ids.length})`);
    return io.shape.cuSeqlens[s] + q.row;
  });
  const ws = t.forwardWorkspace(opts.forBackward);
  const { x, h, rstd, acts } = t.hidden(ids, io, ws, opts.forBackward ? "all" : "none");
  const hidden = new Float32Array(S * C);
  for (let s = 0; s < S; s++) hidden.set(h.subarray(rows[s] * C, (rows[s] + 1) * C), s * C);
  if (!opts.forBackward) return { hidden };
  return { hidden, state: { ids, io, acts, final: { x, rstd }, rows, generation: t.generation } };
}

/** Reverse pass of forwardRows: adds d(loss)/d(param) into grads given d(loss)/d(hidden) (S, C). */
export function backwardRows(t: Trunk, state: RowsState, dHidden: Float32Array, grads: Params): void {
  const C = t.config.hiddenSize,
    S = state.rows.length;
  t.checkFresh(state, "backwardRows");
  if (dHidden.length !== S * C) throw new Error(`backwardRows: ${dHidden.length} gradients for ${S}×${C} rows`);
  const dh = t.trainWs.zeros("grad.h", state.ids.length * C);
  for (let s = 0; s < S; s++) dh.set(dHidden.subarray(s * C, (s + 1) * C), state.rows[s] * C); // one row per sequence
  t.backwardTrunk(state, dh, grads);
}
