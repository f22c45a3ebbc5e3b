// Choosing the next token from a row of logits: greedy, or temperature → top-k → top-p (nucleus) in Hugging Face's
// order, with one uniform draw from the sequence's own RNG per token. Pure functions, no model.
import { z } from "zod";
import type { Rng } from "../tensor/rng.js";

// The rules of each sampling setting, defined once: JSONL fields (sso generate) and command-line flags
// (src/cli/flags.ts) validate with these same schemas. The description completes "must be …" in flag errors.
export const Temperature = z.number().min(0).describe("a number ≥ 0 (0 = greedy)");
export const TopP = z.number().gt(0).max(1).describe("a number in (0, 1]");
export const TopK = z.number().int().min(0).describe("an integer ≥ 0 (0 = off)");
export const MaxNewTokens = z.number().int().positive().describe("an integer ≥ 1");
/** A 32-bit unsigned seed, as the sso config's seeds. */
export const Seed = z.number().int().min(0).max(0xffffffff).describe("an integer in 0..4294967295");

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables. */
  topP: number;
  /** Keep the k most likely tokens; 0 disables. */
  topK: number;
  maxNewTokens: number;
  /** Generation stops when the decoded text contains one of these; the text is cut before it. */
  stop: string[];
}

/** Index of the largest logit (the first one on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** A logits row without a finite maximum: nothing can be sampled from it (NaN weights, or an overflow). */
export class NonFiniteLogitsError extends Error {
  constructor(x: number) {
    super(`the model's logits are not finite (${x}): its weights hold NaN or ±Infinity, or its activations overflow`);
  }
}

/** Tokens whose probability is below this fraction of the most likely one's are never candidates. */
const NEGLIGIBLE = Math.log(1e-12);

export function sampleToken(row: ArrayLike<number>, p: SamplingParams, rng: Rng): number {
  if (p.temperature <= 0) {
    const t = argmax(row);
    if (!Number.isFinite(row[t])) throw new NonFiniteLogitsError(row[t]);
    return t;
  }
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (!Number.isFinite(max)) throw new NonFiniteLogitsError(max === -Infinity ? Number.NaN : max);
  // Candidates sorted by logit, most likely first (ties by index, so the order is deterministic).
  const floor = max + NEGLIGIBLE * p.temperature;
  const cand: number[] = [];
  for (let i = 0; i < row.length; i++) if (row[i] >= floor) cand.push(i);
  cand.sort((a, b) => row[b] - row[a] || a - b);
  const k = p.topK > 0 ? Math.min(p.topK, cand.length) : cand.length;
  const weights = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < k; i++) total += weights[i] = Math.exp((row[cand[i]] - max) / p.temperature);
  // Nucleus: the smallest prefix whose mass reaches topP (the token that crosses it is kept).
  let keep = k,
    mass = 0;
  if (p.topP < 1) {
    for (let i = 0; i < k; i++) {
      mass += weights[i] / total;
      if (mass >= p.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  let kept = 0;
  for (let i = 0; i < keep; i++) kept += weights[i];
  let u = rng.uniform() * kept;
  for (let i = 0; i < keep; i++) {
    u -= weights[i];
    if (u < 0) return cand[i];
  }
  return cand[keep - 1];
}
