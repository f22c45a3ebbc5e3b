// Choosing the next token from a row of logits: greedy, or temperature → top-k → top-p (nucleus) in Hugging Face's
// order, with one uniform draw from the sequence's own RNG per token. Pure functions, no model. `sampleToken` is the
// fast path (candidate logits sorted as numbers; indices looked up only for the drawn token) and
// `sampleTokenReference` its readable twin (candidate indices sorted with a comparator): the same token, bit for bit
// (test/sample/sampling.test.ts).
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

let reference = false;

/** Benchmarks only: makes `drawToken` use sampleTokenReference (the sampler before the fast path) process-wide. */
export function useReferenceSampler(on: boolean): void {
  reference = on;
}

/** The sampler the decoder draws with: sampleToken (or, after useReferenceSampler(true), its reference twin). */
export const drawToken = (row: ArrayLike<number>, p: SamplingParams, rng: Rng): number =>
  reference ? sampleTokenReference(row, p, rng) : sampleToken(row, p, rng);

/** Tokens whose probability is below this fraction of the most likely one's are never candidates. */
const NEGLIGIBLE = Math.log(1e-12);

/**
 * The next token: greedy at temperature 0, else temperature → top-k → top-p over the candidates (logits within
 * NEGLIGIBLE of the maximum) in descending order, ties by index. Sorting the candidates' logits as numbers (a radix
 * sort of float32 rows) gives the weights, their total and the nucleus in that same order — equal logits have equal
 * weights, so the order among ties does not change a sum — and only the drawn position is turned back into an index:
 * the (position − number of larger logits)-th occurrence of its logit in the row. With random weights every one of
 * 151,936 logits is a candidate and the comparator sort of `sampleTokenReference` took ~170 ms per token.
 */
export function sampleToken(row: ArrayLike<number>, p: SamplingParams, rng: Rng): number {
  if (p.temperature <= 0) {
    const t = argmax(row);
    if (!Number.isFinite(row[t])) throw new NonFiniteLogitsError(row[t]);
    return t;
  }
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (!Number.isFinite(max)) throw new NonFiniteLogitsError(max === -Infinity ? Number.NaN : max);
  const floor = max + NEGLIGIBLE * p.temperature;
  let n = 0;
  for (let i = 0; i < row.length; i++) if (row[i] >= floor) n++;
  // The candidates' logits (exactly the row's values), ascending; read from the end = descending.
  const sorted = row instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0, j = 0; i < row.length; i++) if (row[i] >= floor) sorted[j++] = row[i];
  if (sorted instanceof Float32Array) radixSort(sorted);
  else sorted.sort();
  const at = (i: number) => sorted[n - 1 - i];
  const k = p.topK > 0 ? Math.min(p.topK, n) : n;
  const weights = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < k; i++) total += weights[i] = Math.exp((at(i) - max) / p.temperature);
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
  let u = rng.uniform() * kept,
    drawn = keep - 1;
  for (let i = 0; i < keep; i++) {
    u -= weights[i];
    if (u < 0) {
      drawn = i;
      break;
    }
  }
  return nthOfValue(row, at(drawn), drawn - firstPosition(sorted, at(drawn)));
}

/** How many of the ascending `sorted` are greater than v (v's first position in descending order). */
function firstPosition(sorted: Float32Array | Float64Array, v: number): number {
  let lo = 0,
    hi = sorted.length; // first index with sorted[i] > v
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] > v) hi = mid;
    else lo = mid + 1;
  }
  return sorted.length - lo;
}

/** Sorts float32 values ascending in place as Float32Array.prototype.sort does (-0 before +0; no NaN here): three
 *  11-bit passes over keys whose unsigned order is the values' order — about 3× faster than the native sort. */
function radixSort(vals: Float32Array): void {
  const n = vals.length,
    bits = new Uint32Array(vals.buffer, vals.byteOffset, n);
  let k = new Uint32Array(n),
    t = new Uint32Array(n);
  for (let i = 0; i < n; i++) k[i] = bits[i] & 0x80000000 ? ~bits[i] >>> 0 : (bits[i] | 0x80000000) >>> 0;
  const count = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(k[i] >>> shift) & 2047]++;
    for (let b = 0, sum = 0; b < 2048; b++) {
      const c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) t[count[(k[i] >>> shift) & 2047]++] = k[i];
    [k, t] = [t, k];
  }
  for (let i = 0; i < n; i++) bits[i] = k[i] & 0x80000000 ? k[i] & 0x7fffffff : ~k[i] >>> 0;
}

/** The index of the r-th (0-based) entry of row equal to v, in index order. */
function nthOfValue(row: ArrayLike<number>, v: number, r: number): number {
  for (let i = 0; i < row.length; i++) if (row[i] === v && r-- === 0) return i;
  throw new Error("internal: sampleToken lost its candidate");
}

/** The readable twin of sampleToken: every candidate's index sorted by (logit descending, index ascending). */
export function sampleTokenReference(row: ArrayLike<number>, p: SamplingParams, rng: Rng): number {
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
