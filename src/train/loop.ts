// The one training loop every trainer runs: the step plan (a seeded record order per epoch, cosine learning rates
// with warmup), resuming from OUT/checkpoint, the metrics log (OUT/metrics.jsonl), the progress bar, the save
// cadence and the "last good checkpoint" error. A trainer supplies only what one step computes (its forward,
// objective and backward into the gradients); AdamW's update, clipping and the bookkeeping are here. The SSO
// trainer (src/sso/train.ts) and the reward-model trainer (src/rm/train.ts) run it in-process; the PyTorch trainer
// (src/sso/torch-train.ts) shares the plan, the resume rule and the error. Not here: what a step computes, and
// saving the final model (each trainer saves its own kind of folder).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Model } from "../model/model.js";
import type { Params } from "../model/params.js";
import { mixSeed, Rng } from "../tensor/rng.js";
import { progress } from "../util/progress.js";
import { readCheckpointState, saveCheckpoint, type TrainerState } from "./checkpoint.js";
import { MetricsLog } from "./metrics.js";
import type { AdamW } from "./optimizer.js";
import { cosineWithWarmup } from "./schedule.js";

/** The settings the plan reads. */
export interface PlanSettings {
  batchSize: number;
  epochs: number;
  warmupRatio: number;
  seed: number;
  lr: number;
}

/** Per-epoch record order: a Fisher–Yates shuffle seeded by (seed, epoch), so any step's records can be recomputed. */
function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new Rng(mixSeed(seed, epoch)).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** A run's steps over n items: per epoch, per run, warmup steps, and each step's items and learning rate (1-based). */
export function stepPlan(n: number, cfg: PlanSettings) {
  const stepsPerEpoch = Math.ceil(n / cfg.batchSize),
    total = stepsPerEpoch * cfg.epochs,
    warmup = Math.round(cfg.warmupRatio * total);
  return {
    stepsPerEpoch,
    total,
    batch: (step: number): number[] => {
      const epoch = Math.floor((step - 1) / stepsPerEpoch),
        within = (step - 1) % stepsPerEpoch;
      return epochOrder(n, cfg.seed, epoch).slice(within * cfg.batchSize, (within + 1) * cfg.batchSize);
    },
    lr: (step: number): number => cosineWithWarmup(cfg.lr, step, total, warmup),
  };
}
export type StepPlan = ReturnType<typeof stepPlan>;

/** The checkpoint to resume from (none unless resuming), refused when it was made from other data or math. */
export function resumeState(ckptDir: string, fp: string, resume: boolean): TrainerState | undefined {
  const saved = resume ? readCheckpointState(ckptDir) : undefined;
  if (saved && saved.fingerprint !== fp)
    throw new Error(`${ckptDir}: the checkpoint is from other data or settings; remove it or train into another --out`);
  return saved;
}

/** Whether a checkpoint survives a failed run, for the end of its one-line error. */
export const checkpointNote = (lastSaved: number, ckptDir: string): string =>
  lastSaved > 0
    ? `the last good checkpoint (step ${lastSaved}) is intact in ${ckptDir}`
    : "no checkpoint was written yet";

/** The one-line error of a step that failed: which step, why, and whether a checkpoint survives to resume from. */
export const stepFailure = (name: string, step: number, lastSaved: number, ckptDir: string, cause: string): Error =>
  new Error(`${name}: step ${step}: ${cause}; ${checkpointNote(lastSaved, ckptDir)}`);

/** What every trainer logs for every step, around its own metrics. */
export interface LoopMetrics {
  step: number;
  epoch: number;
  loss: number;
  grad_norm: number;
  learning_rate: number;
  "tokens/s": number;
}

/** What a trainer's step returns: its metrics (logged between `epoch` and `grad_norm`) and its speed. */
export interface StepResult<M> {
  metrics: M;
  tokensPerSecond: number;
}

export interface LoopOptions<M extends { loss: number }> {
  /** Names the trainer in the progress bar and in errors ("train", "rm train"). */
  name: string;
  model: Model;
  grads: Params;
  opt: AdamW;
  /** How many items (records, pairs) the plan orders. */
  items: number;
  cfg: PlanSettings & { saveEvery: number };
  /** Identifies the run's data and math; a checkpoint with another fingerprint is refused. */
  fingerprint: string;
  out: string;
  /** Folder whose tokenizer files the checkpoint's model carries. */
  sourceDir: string;
  resume: boolean;
  /** One optimizer step's forward and backward over these items, into grads (zeroed by the step). */
  step: (items: number[]) => StepResult<M>;
  /** The progress bar's fields after a step, besides the count. */
  barFields: (m: M & LoopMetrics) => Record<string, string | number>;
  onStep?: (m: M & LoopMetrics) => void;
}

/** Runs the plan's remaining steps (all, or those after OUT/checkpoint when resuming); returns their metrics. */
export function trainingLoop<M extends { loss: number }>(o: LoopOptions<M>): (M & LoopMetrics)[] {
  const plan = stepPlan(o.items, o.cfg),
    ckptDir = join(o.out, "checkpoint");
  mkdirSync(o.out, { recursive: true });
  const saved = resumeState(ckptDir, o.fingerprint, o.resume),
    start = saved?.step ?? 0;
  if (saved) o.opt.load(join(ckptDir, "optimizer.safetensors"), saved.step);
  const log = MetricsLog.open(join(o.out, "metrics.jsonl"), saved ? start : undefined);
  const bar = progress(o.name, plan.total - start, "steps"),
    run: (M & LoopMetrics)[] = [];
  let lastSaved = start,
    step = start + 1;
  try {
    for (; step <= plan.total; step++) {
      const epoch = Math.floor((step - 1) / plan.stepsPerEpoch);
      const result = o.step(plan.batch(step));
      const learningRate = plan.lr(step);
      const gradNorm = o.opt.update(o.grads, learningRate);
      const metrics = {
        step,
        epoch,
        ...result.metrics,
        grad_norm: gradNorm,
        learning_rate: learningRate,
        "tokens/s": result.tokensPerSecond,
      };
      run.push(metrics);
      log.append(metrics);
      o.onStep?.(metrics);
      bar.tick(1, o.barFields(metrics));
      if ((o.cfg.saveEvery > 0 && step % o.cfg.saveEvery === 0) || step === plan.total) {
        const state = { step, totalSteps: plan.total, fingerprint: o.fingerprint };
        saveCheckpoint(ckptDir, o.model, o.opt, state, o.sourceDir);
        lastSaved = step;
      }
    }
  } catch (e) {
    throw stepFailure(o.name, step, lastSaved, ckptDir, (e as Error).message);
  } finally {
    bar.stop();
  }
  return run;
}
