// Packing a batch of variable-length sequences into one token array for the model: ids and positions, the
// attention shape (cumulative lengths, each continuation's shared prefix), and the rows whose next token is scored
// with those targets. Each sequence is checked (token ids, length, scoreFrom, prefix) before any compute; an error
// names it.
import type { AttentionShape } from "../backends/backend.js";
import type { ModelConfig } from "./config.js";
import type { LayerInputs } from "./layer.js";

export interface SequenceInput {
  ids: ArrayLike<number>;
  /** Index of the first token whose log-prob is returned (it is predicted from the tokens before it). Default 1.
   *  With a prefix it counts over the whole sequence: the prefix's ids, then these. */
  scoreFrom?: number;
  /** Index of an earlier sequence of the same batch (itself without a prefix) whose ids come before these: they are
   *  computed once, and this sequence attends to them (a shared prompt, see share.ts). */
  prefix?: number;
}

/** A packed batch: T tokens, and R scored rows (row i predicts targets[i]); sequence s's rows are
 *  rowOffsets[s]..rowOffsets[s+1]. */
export interface PackedBatch {
  ids: Int32Array;
  io: LayerInputs;
  rows: Int32Array;
  targets: Int32Array;
  rowOffsets: number[];
}

/** Packs sequences; errors name sequence `origin[s]` (the caller's index when prompts were shared). */
export function packBatch(
  c: ModelConfig,
  invFreq: Float32Array,
  seqs: readonly SequenceInput[],
  origin?: readonly number[],
): PackedBatch {
  const T = seqs.reduce((s, q) => s + q.ids.length, 0);
  const ids = new Int32Array(T),
    positions = new Int32Array(T),
    cu = new Int32Array(seqs.length + 1);
  const rows: number[] = [],
    targets: number[] = [],
    rowOffsets: number[] = [],
    prefixOf = new Int32Array(seqs.length).fill(-1);
  seqs.forEach((seq, s) => {
    const p = seq.prefix ?? -1,
      name = `sequence ${origin?.[s] ?? s}`;
    if (p !== -1 && !(Number.isInteger(p) && p >= 0 && p < s && seqs[p].prefix === undefined))
      throw new Error(`${name}: prefix ${p} is not an earlier sequence without a prefix`);
    prefixOf[s] = p;
    // Token u of the whole sequence (prefix, then own ids) sits in packed row at(u).
    const off = cu[s],
      lp = p === -1 ? 0 : cu[p + 1] - cu[p],
      at = (u: number): number => (u < lp ? cu[p] + u : off + u - lp),
      n = lp + seq.ids.length,
      from = seq.scoreFrom ?? 1;
    if (!Number.isInteger(from) || from < 1 || from > Math.max(n, 1))
      throw new Error(`${name}: scoreFrom ${from} outside [1, ${Math.max(n, 1)}]`);
    if (n > c.maxPositionEmbeddings)
      throw new Error(`${name}: ${n} tokens exceed max_position_embeddings ${c.maxPositionEmbeddings}`);
    for (let t = lp; t < n; t++) {
      const id = seq.ids[t - lp];
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize)
        throw new Error(`${name}: token ${t} = ${id} is outside the vocabulary [0, ${c.vocabSize})`);
      ids[at(t)] = id;
      positions[at(t)] = t;
    }
    rowOffsets.push(rows.length);
    for (let t = from; t < n; t++) {
      rows.push(at(t - 1));
      targets.push(ids[at(t)]);
    }
    cu[s + 1] = off + n - lp;
  });
  rowOffsets.push(rows.length);
  const shape: AttentionShape = {
    cuSeqlens: cu,
    NH: c.numHeads,
    NKV: c.numKvHeads,
    HS: c.headDim,
    scale: 1 / Math.sqrt(c.headDim),
    ...(prefixOf.some((p) => p !== -1) ? { prefixOf } : {}),
  };
  return {
    ids,
    io: { shape, positions, invFreq },
    rows: Int32Array.from(rows),
    targets: Int32Array.from(targets),
    rowOffsets,
  };
}
