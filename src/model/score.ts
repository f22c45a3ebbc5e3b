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
  opts: { maxBatchTokens?: number; sharePrompts?: boolean; onBatch?: (items: number, tokens: number) => void } = {},
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
      const token_logps = Array.from(o.tokenLogps);
      results.push({ logp: token_logps.reduce((a, b) => a + b, 0), n_tokens: token_logps.length, token_logps });
    }
    opts.onBatch?.(batch.length, tokens);
    start = end;
  }
  return results;
}

const length = (it: ScoreItem): number => it.promptIds.length + it.responseIds.length;
