// The SSO objective (METHOD.md §3) as pure functions of per-sequence log-probs: a table of base preference losses,
// the self-steering composition with every option of the spec, named presets, and exact derivatives with respect
// to each policy log-prob sum — including the path through the weight W unless it is detached. The batch loss is
// the mean over records, so a batch of N gives exactly the mean of N batches of one (the authors' code does not).
// No model here: the trainer feeds these derivatives into the model's backward.

import { z } from "zod";
import { PAIR_NAMES, type Pair } from "./pairs.js";

// The (prompt variant, response) pairs a record's loss reads are the table of pairs.ts.

/** Summed log-probs of one pair under the policy and the reference, and its response token count. */
export interface PairLogps {
  policy: number;
  ref: number;
  n: number;
}
export type RecordLogps = Partial<Record<Pair, PairLogps>>;

export type BaseLoss = ObjectiveConfig["base"];

/** A base loss of the margin h: its value and dL/dh. IPO's β is its τ (TRL's normalisation: target 1/(2β)). */
export const BASE_LOSSES: Record<BaseLoss, (h: number, beta: number) => [number, number]> = {
  ipo: (h, beta) => {
    const d = h - 1 / (2 * beta);
    return [d * d, 2 * d];
  },
  dpo: (h, beta) => [softplus(-beta * h), -beta * sigmoid(-beta * h)], // −log σ(βh)
};

/**
 * The objective's settings with the method's defaults (METHOD.md §3), which are the `sso` preset. A field added here
 * is a field everywhere: `train.objective`'s overrides derive from it (train-config.ts), and the PyTorch port
 * (python/sso_torch) refuses a config with a field it does not know, so its test fails until it is ported too.
 */
export const ObjectiveFields = z.strictObject({
  base: z.enum(["ipo", "dpo"]).default("ipo"),
  beta: z.number().positive().default(0.1),
  /** Weight of the self-steering term G; 0 = "w/o G". */
  theta: z.number().min(0).default(0.1),
  /** W = σ(−(α·avg(y+|x) + (1−α)·avg(y-|x))). */
  alpha: z.number().min(0).max(1).default(0.5),
  /** false = "w/o W" (W ≡ 1). */
  useWeight: z.boolean().default(true),
  /** "all": W·(L + θG) (v1, default); "steering": L + W·θG (the authors' later code). */
  weightScope: z.enum(["all", "steering"]).default("all"),
  /** Stop the gradient through W (WPO/TRL style); the authors' code does not. */
  detachWeight: z.boolean().default(false),
  /** "sso": G = L(x+,y+,y-) + L(x-,y°,y+); "backdoor": G′ = L(x+,y+,y-) + L(x-,y-,y+) (ablation); "none". */
  steering: z.enum(["sso", "backdoor", "none"]).default("sso"),
  /** SFT term γ·(−avg(y+|x)) (authors' pref_ftx); 0 = off. */
  gamma: z.number().min(0).default(0),
  /** The v2 generator objective: [L(x+,y+,y-) + γ·SFT(x+,y+)] + [L(x-,y°,y+) + γ·SFT(x-,y°)], no W. */
  generator: z.boolean().default(false),
});
export type ObjectiveConfig = z.output<typeof ObjectiveFields>;

const SSO: ObjectiveConfig = ObjectiveFields.parse({});

/** Named configurations: the method, its ablations and the plain baselines. */
export const PRESETS: Record<string, ObjectiveConfig> = {
  sso: SSO,
  pbaa: { ...SSO, useWeight: false, steering: "none", theta: 0 }, // the paper's "Modified PBAA" = w/o W,G
  "sso-no-w": { ...SSO, useWeight: false },
  "sso-no-g": { ...SSO, steering: "none", theta: 0 },
  "sso-backdoor": { ...SSO, steering: "backdoor" },
  "sso-dpo": { ...SSO, base: "dpo" },
  "sso-v2-generator": { ...SSO, base: "dpo", useWeight: false, gamma: 0.1, generator: true },
  ipo: { ...SSO, useWeight: false, steering: "none", theta: 0 },
  dpo: { ...SSO, base: "dpo", useWeight: false, steering: "none", theta: 0 },
};

export interface ObjectiveParts {
  /** L(x, y+, y-): the plain preference loss. */
  L: number;
  /** The steering term (G or G′), before θ. */
  G: number;
  W: number;
  L_pos: number;
  L_neg: number;
  sft: number;
}

export interface ObjectiveResult {
  loss: number;
  /** Means over the batch. */
  parts: ObjectiveParts;
  /** Per record, d(batch loss)/d(policy log-prob sum) of each pair it uses. */
  grads: Partial<Record<Pair, number>>[];
}

/** Which pairs a configuration reads, so the trainer forwards only those. */
export function pairsNeeded(c: ObjectiveConfig): Pair[] {
  if (c.generator) return ["pos_chosen", "pos_rejected", "neg_raw", "neg_chosen"];
  const need = new Set<Pair>(["x_chosen", "x_rejected"]);
  if (c.steering !== "none") for (const p of ["pos_chosen", "pos_rejected", "neg_chosen"] as const) need.add(p);
  if (c.steering === "sso") need.add("neg_raw");
  if (c.steering === "backdoor") need.add("neg_rejected");
  return PAIR_NAMES.filter((p) => need.has(p));
}

/** One record's loss, parts and dLoss/d(policy logp) per pair (not yet divided by the batch size). */
function recordObjective(
  r: RecordLogps,
  c: ObjectiveConfig,
): { loss: number; parts: ObjectiveParts; grads: Partial<Record<Pair, number>> } {
  const get = (p: Pair): PairLogps => {
    const v = r[p];
    if (!v) throw new Error(`objective: record lacks the ${p} log-probs this configuration needs`);
    if (!(v.n > 0)) throw new Error(`objective: ${p} has ${v.n} response tokens`);
    return v;
  };
  const grads: Partial<Record<Pair, number>> = {};
  const addGrad = (p: Pair, g: number): void => void (grads[p] = (grads[p] ?? 0) + g);
  const avg = c.base === "ipo"; // IPO compares per-token averages, DPO sums
  // L(prompt variant; w over l) with weight k on its contribution to the loss: returns the loss value and
  // accumulates k·dL/d(policy logp) into grads.
  const pref = (w: Pair, l: Pair, k: number): number => {
    const pw = get(w),
      pl = get(l),
      sw = avg ? 1 / pw.n : 1,
      sl = avg ? 1 / pl.n : 1;
    const h = (pw.policy - pw.ref) * sw - (pl.policy - pl.ref) * sl;
    const [loss, dh] = BASE_LOSSES[c.base](h, c.beta);
    addGrad(w, k * dh * sw);
    addGrad(l, -k * dh * sl);
    return loss;
  };
  const sft = (p: Pair, k: number): number => {
    const v = get(p);
    addGrad(p, -k / v.n);
    return -v.policy / v.n;
  };
  if (c.generator) {
    const L_pos = pref("pos_chosen", "pos_rejected", 1),
      L_neg = pref("neg_raw", "neg_chosen", 1);
    const s = c.gamma > 0 ? sft("pos_chosen", c.gamma) + sft("neg_raw", c.gamma) : 0;
    return { loss: L_pos + L_neg + c.gamma * s, parts: { L: 0, G: L_pos + L_neg, W: 1, L_pos, L_neg, sft: s }, grads };
  }
  const W = c.useWeight ? weight(get("x_chosen"), get("x_rejected"), c.alpha) : 1;
  const scopeAll = c.weightScope === "all";
  const kL = scopeAll ? W : 1,
    kG = W * c.theta; // W multiplies θG in both scopes
  const L = pref("x_chosen", "x_rejected", kL);
  let L_pos = 0,
    L_neg = 0;
  if (c.steering !== "none") {
    L_pos = pref("pos_chosen", "pos_rejected", kG);
    L_neg = c.steering === "sso" ? pref("neg_raw", "neg_chosen", kG) : pref("neg_rejected", "neg_chosen", kG);
  }
  const G = L_pos + L_neg;
  const s = c.gamma > 0 ? sft("x_chosen", c.gamma) : 0;
  const weighted = scopeAll ? L + c.theta * G : c.theta * G; // the part W multiplies
  const loss = (scopeAll ? W * weighted : L + W * weighted) + c.gamma * s;
  if (c.useWeight && !c.detachWeight) {
    // dW/d avg(y|x) = −coef·W(1−W); the loss depends on W through W·weighted.
    const dW = weighted * -W * (1 - W),
      pc = get("x_chosen"),
      pr = get("x_rejected");
    addGrad("x_chosen", (dW * c.alpha) / pc.n);
    addGrad("x_rejected", (dW * (1 - c.alpha)) / pr.n);
  }
  return { loss, parts: { L, G, W, L_pos, L_neg, sft: s }, grads };
}

/** W = σ(−(α·avg_θ(y+|x) + (1−α)·avg_θ(y-|x))), from the policy's plain-prompt log-probs. */
export function weight(chosen: PairLogps, rejected: PairLogps, alpha: number): number {
  return sigmoid(-(alpha * (chosen.policy / chosen.n) + (1 - alpha) * (rejected.policy / rejected.n)));
}

/** The batch objective: mean over records of the per-record loss, with exact per-pair derivatives. */
export function ssoObjective(records: readonly RecordLogps[], c: ObjectiveConfig): ObjectiveResult {
  if (records.length === 0) throw new Error("objective: empty batch");
  const N = records.length,
    parts: ObjectiveParts = { L: 0, G: 0, W: 0, L_pos: 0, L_neg: 0, sft: 0 };
  let loss = 0;
  const grads = records.map((r) => {
    const o = recordObjective(r, c);
    loss += o.loss / N;
    for (const k of Object.keys(parts) as (keyof ObjectiveParts)[]) parts[k] += o.parts[k] / N;
    return Object.fromEntries(Object.entries(o.grads).map(([p, g]) => [p, g / N])) as Partial<Record<Pair, number>>;
  });
  return { loss, parts, grads };
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 + e^x), stable for large |x|. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
