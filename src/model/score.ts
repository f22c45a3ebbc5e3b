// Scoring: log-probabilities of given responses after given prompts, in batches of packed sequences. This is what
// `sso score` runs and what SSO uses for reference log-probs. Token ids in, numbers out: tokenisation and chat
// templates happen before this.
import type { Model } from "./model.js";

export interface ScoreItem {
  promptIds: readonly number[];
  responseIds: readonly number[];
}

export interface ScoreResult {
  /** Σ log p(response token | everything before it). */
  logp: number;
  n_tokens: number;
  token_logps: number[];
}

/**
 * Scores items in input order, packing consecutive items into batches of at most maxBatchTokens packed tokens. Items
 * of one batch with the same prompt compute it once (sharePrompts, default on: the same log-probs), and their prompt
 * counts once against the budget. onBatch gets the batch's items and their tokens counted whole.
 */
export function scoreItems(
  model: Model,
  items: readonly ScoreItem[],
  opts: {
    maxBatchTokens?: number;
    sharePrompts?: boolean;
    onBatch?: (items: number, tokens: number) => void;
    /** The model folder: given, a non-finite log-prob stops the scoring with an error naming it and the item. */
    source?: string;
    /** How that error names item i (default "item i+1"). */
    itemName?: (i: number) => string;
  } = {},
): ScoreResult[] {
  const maxTokens = opts.maxBatchTokens ?? 4096,
    share = opts.sharePrompts ?? true;
  const results: ScoreResult[] = [];
  let start = 0;
  while (start < items.length) {
    let end = start,
      tokens = 0,
      packed = 0;
    const prompts = new Set<string>();
    while (end < items.length) {
      const it = items[end],
        key = it.promptIds.join(","),
        cost = share && prompts.has(key) ? it.responseIds.length : length(it);
      if (end > start && packed + cost > maxTokens) break;
      if (share) prompts.add(key);
      packed += cost;
      tokens += length(it);
      end++;
    }
    const batch = items.slice(start, end);
    const { outputs } = model.forward(
      batch.map((it, i) => {
        if (it.promptIds.length === 0) throw new Error(`item ${start + i}: the prompt must have at least one token`);
        return { ids: [...it.promptIds, ...it.responseIds], scoreFrom: it.promptIds.length };
      }),
      { sharePrompts: share },
    );
    for (const o of outputs) {
      const token_logps = Array.from(o.tokenLogps),
        logp = token_logps.reduce((a, b) => a + b, 0);
      if (opts.source !== undefined)
        checkFiniteLogp(logp, opts.source, opts.itemName?.(results.length) ?? `item ${results.length + 1}`);
      results.push({ logp, n_tokens: token_logps.length, token_logps });
    }
    opts.onBatch?.(batch.length, tokens);
    start = end;
  }
  return results;
}

const length = (it: ScoreItem): number => it.promptIds.length + it.responseIds.length;

/**
 * A log-prob that is NaN or ±Infinity cannot come from finite weights (the forward's logit − logsumexp is finite);
 * it means the model's weights hold NaN/Infinity or its activations overflow. It would print as `null` in JSON, so
 * it is an error naming the model and what was scored instead.
 */
export function checkFiniteLogp(logp: number, model: string, what: string): void {
  if (!Number.isFinite(logp))
    throw new Error(
      `${model}: the log-prob of ${what} is ${logp}: the model's weights hold NaN or ±Infinity, or its activations overflow`,
    );
}

/** checkFiniteLogp for a sampled token: its log-prob under the logits row it was sampled from (logit − logsumexp). */
export function checkFiniteTokenLogp(row: ArrayLike<number>, token: number, model: string, what: string): void {
  let max = -Infinity,
    sum = 0;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  checkFiniteLogp(row[token] - max - Math.log(sum), model, what);
}
