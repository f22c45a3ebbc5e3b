// Supervised training from scratch for the demo model: chat conversations tokenized with the model's template
// (prompt = every turn before the last, response = the last assistant turn + end of turn), packed into batches of
// about `batchTokens` tokens, trained on the response tokens only (loss = mean token NLL over the batch) with AdamW
// and a cosine schedule. Seeded shuffling, so a run is reproducible. It is not SSO training (sso/train.ts) and keeps
// no resumable checkpoint: the demo model takes minutes, not hours.
import type { Model } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import { AdamW } from "../train/optimizer.js";
import { cosineWithWarmup } from "../train/schedule.js";
import { progress } from "../util/progress.js";

export interface SftExample {
  promptIds: number[];
  responseIds: number[];
}

/** Splits each conversation before its last (assistant) message and encodes the two parts. */
export function tokenizeConversations(tok: Tokenizer, conversations: readonly ChatMessage[][]): SftExample[] {
  return conversations.map((messages, i) => {
    const last = messages[messages.length - 1];
    if (last?.role !== "assistant") throw new Error(`conversation ${i}: the last message must be the assistant's`);
    return tok.encodeChat(messages.slice(0, -1), last.content);
  });
}

export interface SftOptions {
  epochs: number;
  /** Tokens (prompt + response) per optimizer step, at most; a longer example makes a batch of its own. */
  batchTokens: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  /** Print the mean loss every this many steps (0 = never). */
  logEvery?: number;
  log?: (line: string) => void;
  /** Progress bar label (stderr, terminals only). */
  label?: string;
}

export interface SftResult {
  steps: number;
  /** Mean response-token NLL of each step, in order. */
  losses: number[];
  tokens: number;
  seconds: number;
}

/** The epoch's batches: a seeded shuffle, then consecutive examples while they fit in batchTokens. */
export function makeBatches(examples: readonly SftExample[], batchTokens: number, rng: Rng): SftExample[][] {
  const order = rng.shuffle(examples.map((_, i) => i));
  const batches: SftExample[][] = [];
  let batch: SftExample[] = [],
    size = 0;
  for (const i of order) {
    const n = examples[i].promptIds.length + examples[i].responseIds.length;
    if (batch.length > 0 && size + n > batchTokens) {
      batches.push(batch);
      [batch, size] = [[], 0];
    }
    batch.push(examples[i]);
    size += n;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** One forward/backward over a batch into grads (zeroed first); returns the mean response-token NLL. */
export function sftGradients(model: Model, batch: readonly SftExample[], grads: Map<string, Float32Array>): number {
  const seqs = batch.map((e) => ({ ids: [...e.promptIds, ...e.responseIds], scoreFrom: e.promptIds.length }));
  const { outputs, state } = model.forward(seqs, { forBackward: true });
  const count = outputs.reduce((s, o) => s + o.tokenLogps.length, 0);
  let nll = 0;
  for (const o of outputs) for (const lp of o.tokenLogps) nll -= lp;
  for (const g of grads.values()) g.fill(0);
  model.backward(
    state!,
    outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(-1 / count)),
    grads,
  );
  return nll / count;
}

/** Trains every parameter of model on examples; returns the per-step losses. */
export function trainSft(model: Model, examples: readonly SftExample[], o: SftOptions): SftResult {
  if (examples.length === 0) throw new Error("sft: no examples");
  const rng = new Rng(o.seed);
  const epochs = Array.from({ length: o.epochs }, () => makeBatches(examples, o.batchTokens, rng));
  const total = epochs.reduce((s, e) => s + e.length, 0);
  const grads = model.newGrads();
  const opt = new AdamW(model.backend, model.params, grads.keys(), {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm,
  });
  const bar = progress(o.label ?? "sft", total, "steps");
  const losses: number[] = [];
  const start = performance.now();
  let tokens = 0;
  try {
    for (const [e, batches] of epochs.entries()) {
      for (const batch of batches) {
        const loss = sftGradients(model, batch, grads);
        const lr = cosineWithWarmup(o.lr, opt.step + 1, total, o.warmupSteps);
        opt.update(grads, lr);
        losses.push(loss);
        tokens += batch.reduce((s, x) => s + x.promptIds.length + x.responseIds.length, 0);
        bar.tick(1, { loss: loss.toFixed(3) });
        if (o.logEvery && losses.length % o.logEvery === 0) {
          const recent = losses.slice(-o.logEvery),
            secs = (performance.now() - start) / 1000;
          o.log?.(
            `step ${losses.length}/${total} · epoch ${e + 1}/${o.epochs} · loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)} · lr ${lr.toExponential(2)} · ${Math.round(tokens / secs)} tok/s · ${secs.toFixed(0)} s`,
          );
        }
      }
    }
  } finally {
    bar.stop();
  }
  return { steps: losses.length, losses, tokens, seconds: (performance.now() - start) / 1000 };
}
