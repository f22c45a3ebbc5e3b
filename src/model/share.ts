// Shared prompt prefixes: a batch of whole sequences rewritten so that sequences with the same prompt (the ids before
// their scoreFrom) compute that prompt once. The prompt becomes one packed sequence of its own that scores nothing;
// each sequence keeps only its response ids and names the prompt as its `prefix` (model.ts packs it: positions
// continue from the prompt's length, its tokens attend to the prompt's keys/values, and its first scored token is
// predicted by the prompt's last row). Forward results are the unshared ones; backward sums every response's
// gradient into the one copy of the prompt. Only the rewriting is here, no model.
import type { SequenceInput } from "./pack.js";

export interface SharedBatch {
  /** What is packed: shared prompts and continuations, and sequences whose prompt nobody else has, unchanged. */
  seqs: SequenceInput[];
  /** at[i]: where the caller's sequence i is in seqs. */
  at: number[];
  /** origin[j]: the caller's sequence that seqs[j] is (for a shared prompt: its first), for error messages. */
  origin: number[];
}

/** Groups whole sequences (none may have a prefix) by identical prompt ids; a prompt of two or more is shared. */
export function sharePrompts(input: readonly SequenceInput[]): SharedBatch {
  const promptOf = (q: SequenceInput): number[] => Array.from(q.ids).slice(0, q.scoreFrom ?? 1);
  const keys = input.map((q, i) => {
    if (q.prefix !== undefined) throw new Error(`sharePrompts: sequence ${i} already has a prefix`);
    return promptOf(q).join(",");
  });
  const count = new Map<string, number>();
  for (const k of keys) count.set(k, (count.get(k) ?? 0) + 1);
  const seqs: SequenceInput[] = [],
    at: number[] = [],
    origin: number[] = [],
    prefixAt = new Map<string, number>();
  const push = (q: SequenceInput, i: number): number => {
    origin.push(i);
    return seqs.push(q) - 1;
  };
  input.forEach((q, i) => {
    const from = q.scoreFrom ?? 1;
    // A prompt nobody shares, or a scoreFrom outside [1, length] (left for the model's own error), stays as it is.
    if (count.get(keys[i])! < 2 || !(Number.isInteger(from) && from >= 1 && from <= q.ids.length)) {
      at.push(push(q, i));
      return;
    }
    let p = prefixAt.get(keys[i]);
    if (p === undefined) {
      p = push({ ids: promptOf(q), scoreFrom: from }, i);
      prefixAt.set(keys[i], p);
    }
    at.push(push({ ids: Array.from(q.ids).slice(from), scoreFrom: from, prefix: p }, i));
  });
  return { seqs, at, origin };
}

/** The caller's per-sequence gradients laid out over the shared batch (the prompts score nothing: empty). */
export function spreadGrads(b: SharedBatch, dLogps: readonly ArrayLike<number>[]): ArrayLike<number>[] {
  if (dLogps.length !== b.at.length)
    throw new Error(`backward: ${dLogps.length} gradients for ${b.at.length} sequences`);
  const out: ArrayLike<number>[] = b.seqs.map(() => new Float32Array(0));
  b.at.forEach((j, i) => {
    out[j] = dLogps[i];
  });
  return out;
}
