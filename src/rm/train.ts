// The reward-model trainer: per optimizer step, each pair's chosen and rejected sequences go through the decoder
// in micro-batches (forwardRows: the pooled token's final hidden state), the score head gives two rewards, the
// Bradley–Terry loss (head.ts) its derivatives, and backwardRows the gradients; AdamW with the cosine schedule
// updates. The step plan, resume rule, checkpoints, metrics log and progress are the one training loop's
// (src/train/loop.ts, shared with the SSO trainer), so `--resume` continues exactly. Not here: reading files (run.ts).
import { createHash } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { saveModel } from "../model/folder.js";
import type { Model } from "../model/model.js";
import type { Params } from "../model/params.js";
import { TrainFields } from "../sso/train-config.js";
import { type StepResult, trainingLoop } from "../train/loop.js";
import { AdamW } from "../train/optimizer.js";
import type { TokenPair } from "./data.js";
import { bradleyTerry, poolRow, scoreBackward, scoreForward } from "./head.js";
import { padIdOf } from "./model.js";

/** The optimisation settings of `sso train` (same meaning), with reward-model defaults and two RM fields. */
export const RmTrainConfig = TrainFields.pick({
  epochs: true,
  warmupRatio: true,
  beta1: true,
  beta2: true,
  eps: true,
  maxGradNorm: true,
  seed: true,
  freeze: true,
  saveDtype: true,
}).extend({
  lr: z.number().positive().default(1e-5),
  batchSize: z.number().int().positive().default(16),
  microBatch: z.number().int().positive().default(8),
  weightDecay: z.number().min(0).default(0),
  saveEvery: z.number().int().min(0).default(50),
  /** TRL's center_rewards_coefficient: adds c·(r_w + r_l)² per pair; 0 = off. */
  centerRewards: z.number().min(0).default(0),
});
export type RmTrainConfig = z.infer<typeof RmTrainConfig>;

export interface RmStepMetrics {
  step: number;
  epoch: number;
  loss: number;
  /** Share of the step's pairs with r_chosen > r_rejected. */
  accuracy: number;
  /** Mean r_chosen − r_rejected. */
  margin: number;
  "rewards/chosen": number;
  "rewards/rejected": number;
  grad_norm: number;
  learning_rate: number;
  "tokens/s": number;
}

/** Identifies a run's pairs and math. */
export function rmFingerprint(pairs: readonly TokenPair[], cfg: RmTrainConfig): string {
  const h = createHash("sha256").update(JSON.stringify(cfg));
  for (const p of pairs) h.update(`${p.chosen.join(",")}\0${p.rejected.join(",")}\0${p.pair.margin}\0`);
  return h.digest("hex").slice(0, 16);
}

/** Trains the reward model in place; returns the metrics of the steps run now. The model goes to OUT/model. */
export function trainRewardModel(
  model: Model,
  pairs: readonly TokenPair[],
  cfg: RmTrainConfig,
  opts: { out: string; sourceDir: string; resume: boolean; onStep?: (m: RmStepMetrics) => void },
): RmStepMetrics[] {
  if (pairs.length === 0) throw new Error("rm train: no pairs");
  if (!model.config.scoreHead) throw new Error("rm train: the model has no score head");
  model.freeze(cfg.freeze);
  const grads = model.newGrads();
  const run = trainingLoop({
    name: "rm train",
    model,
    grads,
    opt: new AdamW(model.backend, model.params, grads.keys(), cfg),
    items: pairs.length,
    cfg,
    fingerprint: rmFingerprint(pairs, cfg),
    out: opts.out,
    sourceDir: opts.sourceDir,
    resume: opts.resume,
    step: (batch) =>
      rmStep(
        model,
        grads,
        batch.map((i) => pairs[i]),
        cfg,
      ),
    barFields: (m) => ({ loss: m.loss.toFixed(4), acc: m.accuracy.toFixed(2), "tok/s": Math.round(m["tokens/s"]) }),
    onStep: opts.onStep,
  });
  saveModel(model, join(opts.out, "model"), { dtype: cfg.saveDtype, carryFrom: opts.sourceDir });
  return run;
}

/** The loss and gradients (into grads, zeroed first) of one step's pairs, micro-batch by micro-batch. */
export function rmStep(
  model: Model,
  grads: Params,
  batch: readonly TokenPair[],
  cfg: Pick<RmTrainConfig, "microBatch" | "centerRewards">,
): StepResult<Pick<RmStepMetrics, "loss" | "accuracy" | "margin" | "rewards/chosen" | "rewards/rejected">> {
  for (const g of grads.values()) g.fill(0);
  const C = model.config.hiddenSize,
    pad = padIdOf(model.config),
    score = model.params.get("score.weight")!,
    dScore = grads.get("score.weight") ?? null;
  const t0 = performance.now(),
    n = batch.length;
  let tokens = 0,
    loss = 0,
    correct = 0,
    rc = 0,
    rr = 0;
  for (let b0 = 0; b0 < n; b0 += cfg.microBatch) {
    const mb = batch.slice(b0, b0 + cfg.microBatch),
      seqs = mb.flatMap((p) => [p.chosen, p.rejected]),
      S = seqs.length;
    const { hidden, state } = model.forwardRows(
      seqs.map((ids) => ({ ids, row: poolRow(ids, pad) })),
      { forBackward: true },
    );
    const r = scoreForward(hidden, score, S, C),
      dr = new Float64Array(S);
    mb.forEach((p, k) => {
      const l = bradleyTerry(r[2 * k], r[2 * k + 1], p.pair.margin, cfg.centerRewards);
      if (!Number.isFinite(l.loss)) throw new Error(`non-finite loss (${l.loss}) for the pair from ${p.pair.source}`);
      loss += l.loss / n; // the step's loss is the mean over its pairs
      dr[2 * k] = l.dChosen / n;
      dr[2 * k + 1] = l.dRejected / n;
      correct += r[2 * k] > r[2 * k + 1] ? 1 : 0;
      rc += r[2 * k];
      rr += r[2 * k + 1];
    });
    const dHidden = new Float32Array(S * C);
    scoreBackward(dHidden, dScore, dr, hidden, score, S, C);
    model.backwardRows(state!, dHidden, grads);
    tokens += seqs.reduce((s, q) => s + q.length, 0);
  }
  return {
    metrics: {
      loss,
      accuracy: correct / n,
      margin: (rc - rr) / n,
      "rewards/chosen": rc / n,
      "rewards/rejected": rr / n,
    },
    tokensPerSecond: tokens / ((performance.now() - t0) / 1000),
  };
}
