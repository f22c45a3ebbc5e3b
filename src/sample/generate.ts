// Batched generation with a KV cache: prompts are prefilled into free cache slots, all active sequences decode one
// token per step together, and a sequence that finishes (end-of-sequence token, stop string or token limit)
// leaves the batch so a waiting prompt can take its slot. Each request samples from its own seeded RNG, so its
// tokens do not depend on which other requests share the batch.
import { Rng } from "../tensor/rng.js";
import type { Model } from "../model/model.js";
import { KvCache } from "./kv-cache.js";
import { sampleToken, type SamplingParams } from "./sampling.js";

export interface GenerationRequest {
  promptIds: readonly number[];
  params: SamplingParams;
  seed: number;
}

/** eos: an end-of-sequence / end-of-turn token (not included in tokens); stop: a stop string; length: the limit. */
export type FinishReason = "eos" | "stop" | "length";

export interface GenerationResult {
  tokens: number[];
  /** Decoded tokens, cut before the stop string when one ended generation. */
  text: string;
  finishReason: FinishReason;
}

export interface GenerateOptions {
  /** Sequences decoded together (cache slots). */
  maxBatch: number;
  eosIds: readonly number[];
  decode: (ids: number[]) => string;
  /** Called as each request finishes (in finishing order). */
  onResult?: (index: number, result: GenerationResult) => void;
  /** Called after every prefill or decode step with the number of tokens it produced. */
  onTokens?: (n: number) => void;
}

interface Active {
  index: number;
  rng: Rng;
  tokens: number[];
}

/** Generates for every request; results are in request order. */
export function generate(model: Model, requests: readonly GenerationRequest[], opts: GenerateOptions): GenerationResult[] {
  const results: GenerationResult[] = new Array(requests.length);
  if (requests.length === 0) return results;
  const capacity = Math.max(...requests.map((r) => r.promptIds.length + r.params.maxNewTokens));
  if (capacity > model.config.maxPositionEmbeddings) throw new Error(`generate: prompt + max new tokens (${capacity}) exceeds max_position_embeddings ${model.config.maxPositionEmbeddings}`);
  requests.forEach((r, i) => {
    if (r.promptIds.length === 0) throw new Error(`generate: request ${i} has an empty prompt`);
  });
  const cache = new KvCache(model.config, Math.min(opts.maxBatch, requests.length), capacity);
  const eos = new Set(opts.eosIds);
  const active: Active[] = [];
  let next = 0;

  const finish = (slot: number, reason: FinishReason, text: string): void => {
    const a = active[slot];
    results[a.index] = { tokens: a.tokens, text, finishReason: reason };
    opts.onResult?.(a.index, results[a.index]);
    const last = active.length - 1;
    cache.move(last, slot);
    active[slot] = active[last];
    active.pop();
  };

  // Appends each slot's sampled token and retires the sequences that are done (highest slot first, so moves
  // only ever fill slots that are already checked).
  const advance = (logits: Float32Array, first: number): void => {
    const V = model.config.vocabSize, produced = active.length - first;
    for (let slot = active.length - 1; slot >= first; slot--) {
      const a = active[slot], p = requests[a.index].params;
      const t = sampleToken(logits.subarray((slot - first) * V, (slot - first + 1) * V), p, a.rng);
      if (eos.has(t)) {
        finish(slot, "eos", opts.decode(a.tokens));
        continue;
      }
      a.tokens.push(t);
      if (p.stop.length > 0) {
        const text = opts.decode(a.tokens);
        const cut = Math.min(...p.stop.map((s) => (s ? text.indexOf(s) : -1)).filter((i) => i >= 0));
        if (Number.isFinite(cut)) {
          finish(slot, "stop", text.slice(0, cut));
          continue;
        }
      }
      if (a.tokens.length >= p.maxNewTokens) finish(slot, "length", opts.decode(a.tokens));
    }
    opts.onTokens?.(produced);
  };

  while (next < requests.length || active.length > 0) {
    const free = cache.slots - active.length;
    if (free > 0 && next < requests.length) {
      const first = active.length, admitted = requests.slice(next, next + free);
      admitted.forEach((r, i) => active.push({ index: next + i, rng: new Rng(r.seed), tokens: [] }));
      const logits = prefill(model, cache, admitted.map((r) => r.promptIds), first);
      next += admitted.length;
      // Rows of logits follow admission order; `advance` reads them by slot − first before any slot moves.
      advance(logits, first);
    } else {
      advance(decodeStep(model, cache, active.map((a) => a.tokens[a.tokens.length - 1])), 0);
    }
  }
  return results;
}

/** Runs prompts through the model into cache slots first.. and returns each prompt's next-token logits. */
function prefill(model: Model, cache: KvCache, prompts: readonly (readonly number[])[], first: number): Float32Array {
  const c = model.config, T = prompts.reduce((s, p) => s + p.length, 0);
  const ids = new Int32Array(T), positions = new Int32Array(T), cu = new Int32Array(prompts.length + 1), rows = new Int32Array(prompts.length);
  prompts.forEach((p, s) => {
    ids.set(p, cu[s]);
    for (let t = 0; t < p.length; t++) positions[cu[s] + t] = t;
    cu[s + 1] = cu[s] + p.length;
    rows[s] = cu[s + 1] - 1;
  });
  const shape = { cuSeqlens: cu, NH: c.numHeads, NKV: c.numKvHeads, HS: c.headDim, scale: 1 / Math.sqrt(c.headDim) };
  const lse = new Float32Array(T * c.numHeads);
  const logits = model.logitsOfRows(ids, {
    shape, positions, invFreq: model.invFreq,
    attend: (layer, att, q, k, v) => {
      model.backend.attentionForward(att, lse, q, k, v, shape);
      prompts.forEach((p, s) => { for (let t = 0; t < p.length; t++) cache.store(layer, k, v, cu[s] + t, first + s, t); });
    },
  }, rows);
  prompts.forEach((p, s) => (cache.lens[first + s] = p.length));
  return logits;
}

/** Feeds each active slot's last token and returns the next-token logits of every slot. */
function decodeStep(model: Model, cache: KvCache, tokens: readonly number[]): Float32Array {
  const c = model.config, S = tokens.length;
  const positions = cache.lens.slice(0, S), lens = Int32Array.from(positions, (p) => p + 1);
  const shape = { cuSeqlens: Int32Array.from({ length: S + 1 }, (_, i) => i), NH: c.numHeads, NKV: c.numKvHeads, HS: c.headDim, scale: 1 / Math.sqrt(c.headDim) };
  const logits = model.logitsOfRows(Int32Array.from(tokens), {
    shape, positions, invFreq: model.invFreq,
    attend: (layer, att, q, k, v) => {
      for (let s = 0; s < S; s++) cache.store(layer, k, v, s, s, positions[s]);
      model.backend.attentionDecode(att, q, cache.k[layer], cache.v[layer], lens, S, cache.capacity, c.numHeads, c.numKvHeads, c.headDim, shape.scale);
    },
  }, Int32Array.from({ length: S }, (_, i) => i));
  cache.lens.set(lens);
  return logits;
}
