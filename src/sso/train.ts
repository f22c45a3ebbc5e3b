// The SSO trainer: per optimizer step, the records' (prompt variant, response) sequences that the objective needs
// are forwarded through the policy in micro-batches, the objective turns their log-prob sums (with the records'
// reference log-probs) into a loss and per-sequence derivatives, the model's backward accumulates gradients, and
// AdamW (cosine schedule, warmup, clipping) updates. Metrics go to OUT/metrics.jsonl; checkpoints to
// OUT/checkpoint (atomic), from which a rerun resumes exactly; the final model to OUT/model.

import { createHash } from "node:crypto";
import { join } from "node:path";
import { saveModel } from "../model/folder.js";
import { attachLora, baseParamNames, initLora, sameLora } from "../model/lora.js";
import type { Model } from "../model/model.js";
import type { Params } from "../model/params.js";
import { writeAdapter } from "../model/peft.js";
import { scoreItems } from "../model/score.js";
import { mixSeed } from "../tensor/rng.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { type StepResult, trainingLoop } from "../train/loop.js";
import { AdamW } from "../train/optimizer.js";
import { pairsNeeded, type RecordLogps, ssoObjective } from "./objective.js";
import { countColumn, PAIR_NAMES, PAIRS, type Pair, pairLabel, SYSTEM_FIELD } from "./pairs.js";
import type { SsoRecord } from "./record.js";
import { objectiveConfig, type TrainConfig } from "./train-config.js";

export interface Sequence {
  ids: number[];
  scoreFrom: number;
  ref: number;
}

/** A record's sequences for the given pairs, tokenised exactly as synthesis scored them. */
export function recordSequences(tok: Tokenizer, r: SsoRecord, pairs: readonly Pair[]): Sequence[] {
  return pairs.map((p) => {
    const { variant, response, ref } = PAIRS[p],
      system = SYSTEM_FIELD[variant];
    const messages = [...(system ? [{ role: "system", content: r[system] }] : []), ...r.prompt];
    const { promptIds, responseIds } = tok.encodeChat(messages, r[response][0].content);
    if (responseIds.length !== r[countColumn(response)]) {
      throw new Error(
        `record id ${JSON.stringify(r.id)}: ${pairLabel(p)} tokenises to ${responseIds.length} response tokens, the record says ${r[countColumn(response)]} (different tokenizer?)`,
      );
    }
    return { ids: [...promptIds, ...responseIds], scoreFrom: promptIds.length, ref: r[ref] };
  });
}

/** The records with every reference column rescored by another model (e.g. the initial one), same tokenisation. */
export function rescoreReference(ref: Model, tok: Tokenizer, records: readonly SsoRecord[]): SsoRecord[] {
  const pairs = PAIR_NAMES;
  const results = scoreItems(
    ref,
    records.flatMap((r) =>
      recordSequences(tok, r, pairs).map((s) => ({
        promptIds: s.ids.slice(0, s.scoreFrom),
        responseIds: s.ids.slice(s.scoreFrom),
      })),
    ),
  );
  return records.map((r, i) => ({
    ...r,
    ...Object.fromEntries(pairs.map((p, k) => [PAIRS[p].ref, results[i * pairs.length + k].logp])),
  }));
}

/** The policy's log-probs (with the records' reference ones) of each record's pairs: for evaluating the objective. */
export function policyRecordLogps(
  model: Model,
  tok: Tokenizer,
  records: readonly SsoRecord[],
  pairs: readonly Pair[],
): RecordLogps[] {
  return records.map((r) => {
    const seqs = recordSequences(tok, r, pairs),
      { outputs } = model.forward(seqs, { sharePrompts: true });
    return Object.fromEntries(
      pairs.map((p, k) => [
        p,
        { policy: outputs[k].tokenLogps.reduce((a, x) => a + x, 0), ref: seqs[k].ref, n: outputs[k].tokenLogps.length },
      ]),
    );
  });
}

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  "rewards/chosen"?: number;
  "rewards/rejected"?: number;
  "rewards/accuracies"?: number;
  "rewards/margins"?: number;
  "logps/chosen"?: number;
  "logps/rejected"?: number;
  "sso/W": number;
  "sso/G": number;
  "sso/L_pos": number;
  "sso/L_neg": number;
  grad_norm: number;
  learning_rate: number;
  "tokens/s": number;
}

export interface TrainOptions {
  out: string;
  /** Folder whose tokenizer files saved models carry. */
  sourceDir: string;
  /** Continue from OUT/checkpoint when it exists. */
  resume: boolean;
  onStep?: (m: StepMetrics) => void;
}

/** Identifies a run's records and math; which trainer runs it (on how many ranks), whether it shares prompts and
 *  whether it recomputes activations (the same math up to float rounding) are not part of it. */
export function fingerprint(records: readonly SsoRecord[], cfg: TrainConfig): string {
  const { trainer: _t, torch: _x, sharePrefixes: _s, recompute: _r, ...math } = cfg;
  const h = createHash("sha256").update(JSON.stringify(math));
  for (const r of records) h.update(`${r.id}\0${r.ref_chosen_logps}\0${r.chosen[0].content}\0`);
  return h.digest("hex").slice(0, 16);
}

/** Salt of the LoRA initialisation's seed (mixSeed(train.seed, LORA_INIT_STREAM)); epochs use 0, 1, 2, … */
export const LORA_INIT_STREAM = 0x4c6f5241;

/**
 * What trains: without train.lora every parameter but the `freeze` globs; with it, a LoRA adapter — a fresh seeded
 * one (PEFT's init), or the one the model carries when resuming — while every base parameter is frozen, so that
 * gradients and AdamW moments exist only for the adapter's A and B.
 */
function setTrainable(model: Model, cfg: TrainConfig): void {
  if (!cfg.lora) {
    if (model.lora) throw new Error("train: the model carries a LoRA adapter but train.lora is not set");
    model.freeze(cfg.freeze);
    return;
  }
  if (!model.lora) {
    const fresh = initLora(model.config, cfg.lora, mixSeed(cfg.seed, LORA_INIT_STREAM));
    attachLora(model, cfg.lora, fresh, "train.lora");
  } else if (!sameLora(model.lora.settings, cfg.lora)) {
    throw new Error("train.lora: the model's adapter has other settings (r, alpha, targets or rslora)");
  }
  model.freeze([...baseParamNames(model.config), ...cfg.freeze]);
}

/**
 * Trains the model in place on the records; returns the metrics of every step run now. With train.lora the result
 * is OUT/adapter (a PEFT folder for the base opts.sourceDir), else OUT/model.
 */
export function trainSso(
  model: Model,
  tok: Tokenizer,
  records: readonly SsoRecord[],
  cfg: TrainConfig,
  opts: TrainOptions,
): StepMetrics[] {
  if (records.length === 0) throw new Error("train: no records");
  const obj = objectiveConfig(cfg.objective),
    pairs = pairsNeeded(obj);
  setTrainable(model, cfg);
  const grads = model.newGrads();
  const seqCache = new Map<number, Sequence[]>();
  const sequences = (i: number): Sequence[] =>
    seqCache.get(i) ?? seqCache.set(i, recordSequences(tok, records[i], pairs)).get(i)!;
  const run = trainingLoop({
    name: "train",
    model,
    grads,
    opt: new AdamW(model.backend, model.params, grads.keys(), cfg),
    items: records.length,
    cfg,
    fingerprint: fingerprint(records, cfg),
    out: opts.out,
    sourceDir: opts.sourceDir,
    resume: opts.resume,
    step: (batch) => trainStep(model, grads, batch, sequences, obj, pairs, cfg),
    barFields: (m) => ({ loss: m.loss.toFixed(4), W: m["sso/W"].toFixed(3), "tok/s": Math.round(m["tokens/s"]) }),
    onStep: opts.onStep,
  });
  if (model.lora) writeAdapter(join(opts.out, "adapter"), model, { baseModel: opts.sourceDir, dtype: cfg.saveDtype });
  else saveModel(model, join(opts.out, "model"), { dtype: cfg.saveDtype, carryFrom: opts.sourceDir });
  return run;
}

/** What one step computes; the loop adds step, epoch, grad_norm, learning_rate and tokens/s. */
type SsoStepMetrics = Omit<StepMetrics, "step" | "epoch" | "grad_norm" | "learning_rate" | "tokens/s">;

/** Forward/backward of one optimizer step's records, micro-batch by micro-batch, into grads (zeroed first). */
function trainStep(
  model: Model,
  grads: Params,
  batch: readonly number[],
  sequences: (i: number) => Sequence[],
  obj: ReturnType<typeof objectiveConfig>,
  pairs: readonly Pair[],
  { microBatch, sharePrefixes, recompute }: Pick<TrainConfig, "microBatch" | "sharePrefixes" | "recompute">,
): StepResult<SsoStepMetrics> {
  for (const g of grads.values()) g.fill(0);
  const t0 = performance.now();
  let tokens = 0,
    loss = 0;
  // The objective's parts, and (with the plain pair) TRL's reward metrics: rewards, correct ordering, log-probs.
  const sums = {
    W: 0,
    G: 0,
    L_pos: 0,
    L_neg: 0,
    rewardChosen: 0,
    rewardRejected: 0,
    correct: 0,
    logpChosen: 0,
    logpRejected: 0,
  };
  const beta = obj.beta,
    plain = pairs.includes("x_chosen");
  for (let b0 = 0; b0 < batch.length; b0 += microBatch) {
    const mb = batch.slice(b0, b0 + microBatch),
      seqs = mb.flatMap((i) => sequences(i));
    const { outputs, state } = model.forward(seqs, { forBackward: true, sharePrompts: sharePrefixes, recompute });
    const sumsOf = outputs.map((o) => o.tokenLogps.reduce((a, x) => a + x, 0));
    const recs: RecordLogps[] = mb.map((_, r) =>
      Object.fromEntries(
        pairs.map((p, k) => {
          const j = r * pairs.length + k;
          return [p, { policy: sumsOf[j], ref: seqs[j].ref, n: outputs[j].tokenLogps.length }];
        }),
      ),
    );
    const res = ssoObjective(recs, obj),
      share = mb.length / batch.length; // the step's loss is the mean over its records
    if (!Number.isFinite(res.loss)) throw new Error(`non-finite loss (${res.loss}) in records ${mb.join(", ")}`);
    model.backward(
      state!,
      outputs.map((o, j) =>
        new Float32Array(o.tokenLogps.length).fill(
          res.grads[Math.floor(j / pairs.length)][pairs[j % pairs.length]]! * share,
        ),
      ),
      grads,
    );
    loss += res.loss * share;
    for (const k of ["W", "G", "L_pos", "L_neg"] as const) sums[k] += res.parts[k] * share;
    if (plain) {
      for (const r of recs) {
        const rewardChosen = beta * (r.x_chosen!.policy - r.x_chosen!.ref),
          rewardRejected = beta * (r.x_rejected!.policy - r.x_rejected!.ref);
        sums.rewardChosen += rewardChosen;
        sums.rewardRejected += rewardRejected;
        sums.correct += rewardChosen > rewardRejected ? 1 : 0;
        sums.logpChosen += r.x_chosen!.policy;
        sums.logpRejected += r.x_rejected!.policy;
      }
    }
    tokens += seqs.reduce((s, q) => s + q.ids.length, 0);
  }
  const n = batch.length;
  const rewards = plain
    ? {
        "rewards/chosen": sums.rewardChosen / n,
        "rewards/rejected": sums.rewardRejected / n,
        "rewards/accuracies": sums.correct / n,
        "rewards/margins": (sums.rewardChosen - sums.rewardRejected) / n,
        "logps/chosen": sums.logpChosen / n,
        "logps/rejected": sums.logpRejected / n,
      }
    : {};
  return {
    metrics: { loss, ...rewards, "sso/W": sums.W, "sso/G": sums.G, "sso/L_pos": sums.L_pos, "sso/L_neg": sums.L_neg },
    tokensPerSecond: tokens / ((performance.now() - t0) / 1000),
  };
}
