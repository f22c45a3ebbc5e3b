// Batched generation with a KV cache: prompts are prefilled into free cache slots, all active sequences decode one
// token per step together, and a sequence that finishes (end-of-sequence token, stop string or token limit)
// leaves the batch so a waiting prompt can take its slot. Each request samples from its own seeded RNG, so its
// tokens do not depend on which other requests share the batch.

import { type DecodeWeights, decodeWeights } from "../model/decode-weights.js";
import type { Model } from "../model/model.js";
import { Rng } from "../tensor/rng.js";
import { KvCache } from "./kv-cache.js";
import { drawToken, type SamplingParams } from "./sampling.js";

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
  /** Called with every sampled token and the logits row it was sampled from (DecoderOptions.onToken). */
  onToken?: DecoderOptions["onToken"];
  /** Decoding weights made once by a caller that generates repeatedly from a model that does not change (chat);
   *  otherwise each call makes its own (DecoderOptions.weights). */
  weights?: DecodeWeights;
}

interface Active {
  index: number;
  request: GenerationRequest;
  rng: Rng;
  tokens: number[];
}

export interface DecoderOptions {
  eosIds: readonly number[];
  decode: (ids: number[]) => string;
  /** Called as each sequence finishes (in finishing order). */
  onResult: (index: number, result: GenerationResult) => void;
  /** Called with every sampled token (an end-of-sequence one too) and the logits row it was sampled from. */
  onToken?: (index: number, token: number, logits: Float32Array) => void;
  /** The model's decoding weights, if the caller already has them (decodeWeights(model) of the same weights). */
  weights?: DecodeWeights;
}

/**
 * The step-wise sampler behind `generate`: a fixed set of cache slots, into which callers admit requests (one
 * prefill for all of them, which also samples their first token) and which `step` advances by one token each.
 * Callers choose when to admit; `generate` fills free slots before decoding, and so does the server's scheduler.
 */
export class Decoder {
  private readonly cache: KvCache;
  private readonly eos: Set<number>;
  private readonly active: Active[] = [];
  /** The model's weights as panels for the decoding steps (made once; the model must not train meanwhile). */
  private readonly weights: DecodeWeights | undefined;

  constructor(
    private readonly model: Model,
    readonly slots: number,
    readonly capacity: number,
    private readonly opts: DecoderOptions,
  ) {
    this.cache = new KvCache(model.config, slots, capacity);
    this.eos = new Set(opts.eosIds);
    this.weights = opts.weights ?? decodeWeights(model);
  }

  /** Sequences decoding now. */
  get size(): number {
    return this.active.length;
  }

  /** Prefills requests into free slots and samples their first tokens; returns the number of tokens produced. */
  admit(requests: readonly { index: number; request: GenerationRequest }[]): number {
    if (requests.length > this.slots - this.active.length)
      throw new Error(`Decoder: ${requests.length} requests for ${this.slots - this.active.length} free slots`);
    for (const { request: r } of requests) {
      if (r.promptIds.length + r.params.maxNewTokens > this.capacity)
        throw new Error(
          `Decoder: prompt + max new tokens (${r.promptIds.length + r.params.maxNewTokens}) exceeds capacity ${this.capacity}`,
        );
    }
    const first = this.active.length;
    requests.forEach(({ index, request }) =>
      this.active.push({ index, request, rng: new Rng(request.seed), tokens: [] }),
    );
    // Rows of logits follow admission order; `advance` reads them by slot − first before any slot moves.
    return this.advance(
      prefill(
        this.model,
        this.cache,
        requests.map((r) => r.request.promptIds),
        first,
      ),
      first,
    );
  }

  /** Decodes one token for every active sequence; returns the number of tokens produced. */
  step(): number {
    return this.advance(
      decodeStep(
        this.model,
        this.cache,
        this.active.map((a) => a.tokens[a.tokens.length - 1]),
        this.weights,
      ),
      0,
    );
  }

  /** Drops a sequence without a result (its caller went away); false when it is not decoding. */
  cancel(index: number): boolean {
    const slot = this.active.findIndex((a) => a.index === index);
    if (slot >= 0) this.remove(slot);
    return slot >= 0;
  }

  private finish(slot: number, reason: FinishReason, text: string): void {
    const a = this.active[slot];
    this.opts.onResult(a.index, { tokens: a.tokens, text, finishReason: reason });
    this.remove(slot);
  }

  private remove(slot: number): void {
    const last = this.active.length - 1;
    this.cache.move(last, slot);
    this.active[slot] = this.active[last];
    this.active.pop();
  }

  // Appends each slot's sampled token and retires the sequences that are done (highest slot first, so moves
  // only ever fill slots that are already checked).
  private advance(logits: Float32Array, first: number): number {
    const V = this.model.config.vocabSize,
      active = this.active,
      produced = active.length - first,
      decode = this.opts.decode;
    for (let slot = active.length - 1; slot >= first; slot--) {
      const a = active[slot],
        p = a.request.params,
        row = logits.subarray((slot - first) * V, (slot - first + 1) * V);
      const t = drawToken(row, p, a.rng);
      this.opts.onToken?.(a.index, t, row);
      if (this.eos.has(t)) {
        this.finish(slot, "eos", decode(a.tokens));
        continue;
      }
      a.tokens.push(t);
      if (p.stop.length > 0) {
        const text = decode(a.tokens);
        const cut = Math.min(...p.stop.map((s) => (s ? text.indexOf(s) : -1)).filter((i) => i >= 0));
        if (Number.isFinite(cut)) {
          this.finish(slot, "stop", text.slice(0, cut));
          continue;
        }
      }
      if (a.tokens.length >= p.maxNewTokens) this.finish(slot, "length", decode(a.tokens));
    }
    return produced;
  }
}

/** Generates for every request; results are in request order. */
export function generate(
  model: Model,
  requests: readonly GenerationRequest[],
  opts: GenerateOptions,
): GenerationResult[] {
  const results: GenerationResult[] = new Array(requests.length);
  if (requests.length === 0) return results;
  const capacity = Math.max(...requests.map((r) => r.promptIds.length + r.params.maxNewTokens));
  if (capacity > model.config.maxPositionEmbeddings)
    throw new Error(
      `generate: prompt + max new tokens (${capacity}) exceeds max_position_embeddings ${model.config.maxPositionEmbeddings}`,
    );
  requests.forEach((r, i) => {
    if (r.promptIds.length === 0) throw new Error(`generate: request ${i} has an empty prompt`);
  });
  const decoder = new Decoder(model, Math.min(opts.maxBatch, requests.length), capacity, {
    eosIds: opts.eosIds,
    decode: opts.decode,
    onToken: opts.onToken,
    weights: opts.weights,
    onResult: (i, r) => {
      results[i] = r;
      opts.onResult?.(i, r);
    },
  });
  let next = 0;
  while (next < requests.length || decoder.size > 0) {
    const free = decoder.slots - decoder.size;
    if (free > 0 && next < requests.length) {
      const admitted = requests.slice(next, next + free).map((request, i) => ({ index: next + i, request }));
      next += admitted.length;
      const n = decoder.admit(admitted);
      opts.onTokens?.(n);
    } else {
      const n = decoder.step();
      opts.onTokens?.(n);
    }
  }
  return results;
}

/** Runs prompts through the model into cache slots first.. and returns each prompt's next-token logits. */
function prefill(model: Model, cache: KvCache, prompts: readonly (readonly number[])[], first: number): Float32Array {
  const c = model.config,
    T = prompts.reduce((s, p) => s + p.length, 0);
  const ids = new Int32Array(T),
    positions = new Int32Array(T),
    cu = new Int32Array(prompts.length + 1),
    rows = new Int32Array(prompts.length);
  prompts.forEach((p, s) => {
    ids.set(p, cu[s]);
    for (let t = 0; t < p.length; t++) positions[cu[s] + t] = t;
    cu[s + 1] = cu[s] + p.length;
    rows[s] = cu[s + 1] - 1;
  });
  const shape = { cuSeqlens: cu, NH: c.numHeads, NKV: c.numKvHeads, HS: c.headDim, scale: 1 / Math.sqrt(c.headDim) };
  const lse = new Float32Array(T * c.numHeads);
  const logits = model.logitsOfRows(
    ids,
    {
      shape,
      positions,
      invFreq: model.invFreq,
      attend: (layer, att, q, k, v) => {
        model.backend.attentionForward(att, lse, q, k, v, shape);
        prompts.forEach((p, s) => {
          for (let t = 0; t < p.length; t++) cache.store(layer, k, v, cu[s] + t, first + s, t);
        });
      },
    },
    rows,
  );
  prompts.forEach((p, s) => (cache.lens[first + s] = p.length));
  return logits;
}

/** Feeds each active slot's last token and returns the next-token logits of every slot. */
function decodeStep(
  model: Model,
  cache: KvCache,
  tokens: readonly number[],
  weights: DecodeWeights | undefined,
): Float32Array {
  const c = model.config,
    S = tokens.length;
  const positions = cache.lens.slice(0, S),
    lens = Int32Array.from(positions, (p) => p + 1);
  const shape = {
    cuSeqlens: Int32Array.from({ length: S + 1 }, (_, i) => i),
    NH: c.numHeads,
    NKV: c.numKvHeads,
    HS: c.headDim,
    scale: 1 / Math.sqrt(c.headDim),
  };
  const logits = model.logitsOfRows(
    Int32Array.from(tokens),
    {
      shape,
      positions,
      invFreq: model.invFreq,
      panels: weights?.layers,
      attend: (layer, att, q, k, v) => {
        for (let s = 0; s < S; s++) cache.store(layer, k, v, s, s, positions[s]);
        model.backend.attentionDecode(
          att,
          q,
          cache.k[layer],
          cache.v[layer],
          lens,
          S,
          cache.capacity,
          c.numHeads,
          c.numKvHeads,
          c.headDim,
          shape.scale,
        );
      },
    },
    Int32Array.from({ length: S }, (_, i) => i),
    weights?.head,
  );
  cache.lens.set(lens);
  return logits;
}
