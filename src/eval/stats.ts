// The statistics of evaluation, as pure functions of numbers: means, percentile bootstrap confidence intervals from
// a seed, a logistic regression with soft labels (Newton's method), and AlpacaEval 2's length-controlled win rate.
// Nothing here reads files, judges or models.
//
// Length-controlled win rate (Dubois et al. 2024, "Length-Controlled AlpacaEval"), as we implement it: each judged
// item i has a preference p_i ∈ [0, 1] for the model over the baseline (1 = model wins, ½ = tie). Regress p on
//   model term      1                                   (the model's own strength, weight θ_m)
//   length term     tanh((len_baseline − len_model) / s)  (s: the sample std of that difference over the items)
//   instruction     d_i, the instruction's difficulty     (only when the items carry one)
// with a logistic link and the log loss on soft labels. The LC win rate is the mean over items of the prediction
// with the length term removed: mean_i σ(θ_m + θ_d·d_i). Lengths are in characters. Where AlpacaEval differs: it
// fits with an L1 penalty chosen by 5-fold cross-validation, adds down-weighted annotations of two "gamed"
// baselines, and takes d_i from a table fitted on its leaderboard; we fit the plain maximum-likelihood estimate
// with a tiny L2 penalty (finite even when the model wins everything) and use d_i only if the input gives it.
import { Rng } from "../tensor/rng.js";

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sample standard deviation (n − 1 in the denominator); 0 for fewer than two values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** The q-quantile of sorted values, interpolating linearly between order statistics (numpy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q,
    lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface Interval {
  lo: number;
  hi: number;
}

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  samples?: number;
  /** Seed of the resampling (default 0): the same seed gives the same interval. */
  seed?: number;
  /** Coverage (default 0.95). */
  level?: number;
}

/**
 * Percentile bootstrap: `statistic` of `samples` resamples (with replacement) of n items, given as index lists;
 * the interval between the (1 − level)/2 and (1 + level)/2 quantiles. Resamples whose statistic is not finite are
 * dropped. Null for no items.
 */
export function bootstrapInterval(
  n: number,
  statistic: (indices: readonly number[]) => number,
  opts: BootstrapOptions = {},
): Interval | null {
  if (n === 0) return null;
  const rng = new Rng(opts.seed ?? 0),
    level = opts.level ?? 0.95,
    stats: number[] = [];
  for (let b = 0; b < (opts.samples ?? 1000); b++) {
    const idx = Array.from({ length: n }, () => rng.int(n));
    const s = statistic(idx);
    if (Number.isFinite(s)) stats.push(s);
  }
  if (stats.length === 0) return null;
  stats.sort((a, b) => a - b);
  return { lo: quantile(stats, (1 - level) / 2), hi: quantile(stats, (1 + level) / 2) };
}

/**
 * A paired difference over seeds × prompts: `diffs[s][p]` is one method's score minus another's on prompt p in seed
 * s (every seed the same prompts, in the same order). The value is the mean over all cells; the interval is a
 * percentile bootstrap that resamples seeds and prompts, both with replacement and independently, and takes the
 * mean over the resampled cross product — so prompts shared by every seed, and seeds shared by every prompt, move
 * together instead of counting as independent cells.
 */
export function pairedBootstrap(
  diffs: readonly (readonly number[])[],
  opts: BootstrapOptions = {},
): { value: number | null; ci: Interval | null } {
  const S = diffs.length,
    P = S === 0 ? 0 : diffs[0].length;
  if (diffs.some((row) => row.length !== P))
    throw new Error("pairedBootstrap: every seed needs the same number of prompts");
  if (S === 0 || P === 0) return { value: null, ci: null };
  const rng = new Rng(opts.seed ?? 0),
    level = opts.level ?? 0.95,
    stats: number[] = [];
  for (let b = 0; b < (opts.samples ?? 1000); b++) {
    const seeds = Array.from({ length: S }, () => rng.int(S)),
      prompts = Array.from({ length: P }, () => rng.int(P));
    let sum = 0;
    for (const s of seeds) for (const p of prompts) sum += diffs[s][p];
    stats.push(sum / (S * P));
  }
  stats.sort((a, b) => a - b);
  return {
    value: mean(diffs.map(mean)),
    ci: { lo: quantile(stats, (1 - level) / 2), hi: quantile(stats, (1 + level) / 2) },
  };
}

/** Mean of 0/1 (or [0, 1]) outcomes with its bootstrap interval: accuracy, win rate. */
export function meanWithInterval(
  xs: readonly number[],
  opts: BootstrapOptions = {},
): { value: number | null; ci: Interval | null } {
  if (xs.length === 0) return { value: null, ci: null };
  return { value: mean(xs), ci: bootstrapInterval(xs.length, (idx) => mean(idx.map((i) => xs[i])), opts) };
}

/** Solves A x = b (A square, small) by Gaussian elimination with partial pivoting; A and b are not modified. */
function solve(A: readonly number[][], b: readonly number[]): number[] {
  const n = b.length,
    M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/**
 * Logistic regression without intercept (give a column of ones for one) on soft labels y ∈ [0, 1]: minimises
 * Σ_i −[y_i log σ(x_i·θ) + (1 − y_i) log(1 − σ(x_i·θ))] + (l2/2)‖θ‖² by Newton's method with step halving.
 */
export function fitLogistic(X: readonly number[][], y: readonly number[], l2 = 1e-6): number[] {
  const d = X[0]?.length ?? 0,
    theta = new Array<number>(d).fill(0);
  const loss = (t: readonly number[]) =>
    X.reduce((acc, x, i) => {
      const z = x.reduce((a, v, k) => a + v * t[k], 0);
      // log(1 + e^z) − y z, written to not overflow
      return acc + Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[i] * z;
    }, 0) +
    (l2 / 2) * t.reduce((a, v) => a + v * v, 0);
  let current = loss(theta);
  for (let iter = 0; iter < 100; iter++) {
    const g = theta.map((t) => l2 * t),
      H = Array.from({ length: d }, (_, r) => Array.from({ length: d }, (_, c) => (r === c ? l2 : 0)));
    X.forEach((x, i) => {
      const p = sigmoid(x.reduce((a, v, k) => a + v * theta[k], 0)),
        w = p * (1 - p);
      for (let r = 0; r < d; r++) {
        g[r] += (p - y[i]) * x[r];
        for (let c = 0; c < d; c++) H[r][c] += w * x[r] * x[c];
      }
    });
    const step = solve(H, g);
    let scale = 1,
      next = theta.map((t, k) => t - step[k]),
      nextLoss = loss(next);
    while (nextLoss > current && scale > 1e-8) {
      scale /= 2;
      next = theta.map((t, k) => t - scale * step[k]);
      nextLoss = loss(next);
    }
    const moved = Math.max(...step.map((s) => Math.abs(scale * s)));
    theta.splice(0, d, ...next);
    current = nextLoss;
    if (moved < 1e-10) break;
  }
  return theta;
}

/** One judged item for the length-controlled win rate. */
export interface LcItem {
  /** Preference for the model over the baseline, in [0, 1]. */
  preference: number;
  modelLength: number;
  baselineLength: number;
  /** The instruction's difficulty (AlpacaEval's instruction_difficulty), when known. */
  difficulty?: number;
}

export interface LcFit {
  /** mean_i σ(θ_m + θ_d·d_i), in [0, 1]. */
  lc: number;
  /** θ_m, θ_len and θ_d (θ_d = 0 when no item has a difficulty). */
  weights: { model: number; length: number; instruction: number };
}

/** The length-controlled win rate of judged items (see the header for the model); null for no items. */
export function lengthControlled(items: readonly LcItem[]): LcFit | null {
  if (items.length === 0) return null;
  const deltas = items.map((it) => it.baselineLength - it.modelLength),
    s = sampleStd(deltas);
  const withDifficulty = items.some((it) => (it.difficulty ?? 0) !== 0);
  const X = items.map((it, i) => [
    1,
    s > 0 ? Math.tanh(deltas[i] / s) : 0,
    ...(withDifficulty ? [it.difficulty ?? 0] : []),
  ]);
  const theta = fitLogistic(
    X,
    items.map((it) => it.preference),
  );
  const instruction = withDifficulty ? theta[2] : 0;
  return {
    lc: mean(items.map((it) => sigmoid(theta[0] + instruction * (it.difficulty ?? 0)))),
    weights: { model: theta[0], length: theta[1], instruction },
  };
}

/** The LC win rate with a bootstrap interval over items (each resample refits the regression). */
export function lengthControlledWithInterval(
  items: readonly LcItem[],
  opts: BootstrapOptions = {},
): { fit: LcFit | null; ci: Interval | null } {
  const fit = lengthControlled(items);
  if (fit === null) return { fit, ci: null };
  return {
    fit,
    ci: bootstrapInterval(items.length, (idx) => lengthControlled(idx.map((i) => items[i]))?.lc ?? NaN, opts),
  };
}
