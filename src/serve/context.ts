// What every endpoint handler shares: the server's options, the scheduler, the tokenizer's two decodings (text for
// answers, raw pieces for log-prob tables), the checks both endpoints make (model name, context length, prompt
// token ids, stop ids), and response ids/timestamps. Deliberately not here: HTTP plumbing (http.ts), any one endpoint's
// request handling (completions.ts, chat.ts).
import type { Model } from "../model/model.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { bad, HttpError } from "./http.js";
import type { Scheduler } from "./scheduler.js";

export interface ServeOptions {
  model: Model;
  tok: Tokenizer;
  /** The id clients name (and /v1/models lists). */
  modelName: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  apiKey?: string;
  /** Jobs that may wait at once (a prompt is one job, two with prompt log-probs); requests are admitted whole. */
  maxQueue?: number;
  maxBatch?: number;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
  /** The model's folder and compute backend, and whether the swap routes are on (admin.ts). */
  modelPath?: string;
  backend?: string;
  allowRuntimeUpdates?: boolean;
}

export interface ServeContext {
  opts: ServeOptions;
  scheduler: Scheduler;
  /** Text of ids, special tokens skipped (what answers contain). */
  decode: (ids: number[]) => string;
  /** One token as it is, special or not (log-prob tables). */
  piece: (id: number) => string;
  /** End-of-sequence ids: sampled, reported in token_ids, but not part of the text. */
  eos: ReadonlySet<number>;
}

export function makeContext(opts: ServeOptions, scheduler: Scheduler): ServeContext {
  return {
    opts,
    scheduler,
    eos: new Set(opts.tok.stopIds),
    decode: (ids) => opts.tok.decode(ids, { skipSpecialTokens: true }),
    piece: (id) => opts.tok.decode([id], { skipSpecialTokens: false }),
  };
}

export function checkModel(ctx: ServeContext, name: string | undefined): void {
  if (name !== undefined && name !== ctx.opts.modelName)
    throw new HttpError(
      404,
      `the model "${name}" does not exist (this server has "${ctx.opts.modelName}")`,
      "not_found_error",
    );
}

/** vLLM's stop_token_ids: we stop at the tokenizer's stop ids only, so any other id is refused, not ignored. */
export function checkStopIds(ctx: ServeContext, ids: readonly number[] | null | undefined): void {
  const other = (ids ?? []).find((t) => !ctx.eos.has(t));
  if (other !== undefined)
    throw bad(
      `stop_token_ids: ${other} is not one of the tokenizer's stop ids (${[...ctx.eos].join(", ")}), the only ones supported`,
    );
}

export function checkLength(ctx: ServeContext, promptLen: number, maxTokens: number): void {
  if (promptLen === 0) throw bad("the prompt is empty");
  const n = ctx.scheduler.maxPositions;
  if (promptLen + maxTokens > n)
    throw bad(
      `this model's maximum context length is ${n} tokens, but ${promptLen + maxTokens} were requested (${promptLen} in the prompt, ${maxTokens} for the completion)`,
    );
}

export interface Prompt {
  ids: number[];
  text: string;
}

export const textPrompt = (ctx: ServeContext, text: string): Prompt => ({ ids: ctx.opts.tok.encode(text), text });

export function idPrompt(ctx: ServeContext, ids: number[]): Prompt {
  const V = ctx.opts.model.config.vocabSize;
  const badId = ids.find((t) => t >= V);
  if (badId !== undefined) throw bad(`prompt: token id ${badId} is outside the vocabulary (size ${V})`);
  return { ids, text: ctx.opts.tok.decode(ids, { skipSpecialTokens: false }) };
}

export const now = () => Math.floor(Date.now() / 1000);
export const newId = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
