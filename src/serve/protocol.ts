// The OpenAI-compatible request shapes `sso serve` accepts (zod schemas), their translation into our sampling
// parameters, and the log-prob shapes of its answers (OpenAI's `logprobs` for completions and chat, vLLM's
// `prompt_logprobs`). Unknown fields are ignored, as OpenAI clients send many; fields whose non-default values we
// cannot honour (penalties, min_p, n > 1, logit_bias) are rejected with a message. HTTP handling is server.ts.
import { z } from "zod";
import type { SamplingParams } from "../sample/sampling.js";
import type { TokenLogprob } from "./scheduler.js";

/** Most top alternatives per token we report. */
export const MAX_TOP_LOGPROBS = 20;

const stop = z.union([z.string(), z.array(z.string()).max(16)]).nullish();
const only = (v: number) =>
  z
    .number()
    .refine((x) => x === v, `only ${v} is supported`)
    .nullish();
const unsupportedZero = only(0);

const sampling = {
  model: z.string().optional(),
  temperature: z.number().min(0).max(100).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  max_tokens: z.number().int().min(0).nullish(),
  stop,
  seed: z
    .number()
    .int()
    .min(-(2 ** 63))
    .max(2 ** 64)
    .nullish(),
  stream: z.boolean().nullish(),
  n: z.literal(1).nullish(),
  frequency_penalty: unsupportedZero,
  presence_penalty: unsupportedZero,
  /** vLLM's and SGLang's extra sampling fields: accepted at their neutral values, which is what we sample with. */
  min_p: unsupportedZero,
  repetition_penalty: only(1),
  /** vLLM: stop at these ids; the tokenizer's own stop ids are the only ones we stop at (context.ts checks). */
  stop_token_ids: z.array(z.number().int().min(0)).max(64).nullish(),
  /** vLLM: include the prompt's and the completion's token ids in each choice. */
  return_token_ids: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
};

const tokenIds = z.array(z.number().int().min(0)).min(1);

export const CompletionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), tokenIds, z.array(z.string()).min(1), z.array(tokenIds).min(1)]),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  prompt_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  suffix: z.null().optional(),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

const content = z.union([z.string(), z.array(z.object({ type: z.literal("text"), text: z.string() })).min(1)]);

export const ChatRequest = z.object({
  ...sampling,
  messages: z
    .array(z.object({ role: z.enum(["system", "user", "assistant", "developer"]), content: content.nullable() }))
    .min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  tools: z.array(z.unknown()).max(0, "tools are not supported").nullish(),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

/** Sampling parameters of a request; a missing seed draws one (so two unseeded requests differ). */
export function samplingOf(
  r: { temperature?: number | null; top_p?: number | null; top_k?: number | null; stop?: string | string[] | null },
  maxNewTokens: number,
): SamplingParams {
  return {
    temperature: r.temperature ?? 1,
    topP: r.top_p ?? 1,
    topK: r.top_k !== undefined && r.top_k !== null && r.top_k > 0 ? r.top_k : 0,
    maxNewTokens,
    stop: r.stop === undefined || r.stop === null ? [] : typeof r.stop === "string" ? [r.stop] : r.stop,
  };
}

export const seedOf = (seed: number | null | undefined): number =>
  seed === undefined || seed === null ? Math.floor(Math.random() * 2 ** 32) : Number(BigInt.asUintN(32, BigInt(seed)));

/** vLLM clamps −∞ to −9999.0 (serving_completion.py); so do we, rather than send JSON's null for −Infinity. */
const finiteLogprob = (x: number): number => Math.max(x, -9999);

/** vLLM's prompt_logprobs: null for the first token, then {token id: {logprob, rank, decoded_token}} per position. */
export function vllmPromptLogprobs(
  lps: readonly TokenLogprob[],
  piece: (id: number) => string,
): (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[] {
  return [
    null,
    ...lps.map((lp) => {
      const out: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
      out[lp.token] = { logprob: finiteLogprob(lp.logprob), rank: lp.rank, decoded_token: piece(lp.token) };
      lp.top.forEach(
        (t, i) => (out[t.token] ??= { logprob: finiteLogprob(t.logprob), rank: i + 1, decoded_token: piece(t.token) }),
      );
      return out;
    }),
  ];
}

/** OpenAI's legacy completions logprobs over tokens (null entries: the first prompt token under echo). */
export function completionLogprobs(
  entries: readonly (TokenLogprob | null)[],
  tokens: readonly number[],
  piece: (id: number) => string,
  offset0: number,
): {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
} {
  const text_offset: number[] = [];
  let offset = offset0;
  for (const t of tokens) {
    text_offset.push(offset);
    offset += piece(t).length;
  }
  return {
    tokens: tokens.map(piece),
    token_logprobs: entries.map((e) => (e ? e.logprob : null)),
    top_logprobs: entries.map((e) => (e ? Object.fromEntries(e.top.map((t) => [piece(t.token), t.logprob])) : null)),
    text_offset,
  };
}

/** OpenAI's chat logprobs.content entries. */
export function chatLogprobs(
  entries: readonly TokenLogprob[],
  piece: (id: number) => string,
): {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}[] {
  const bytes = (s: string) => [...Buffer.from(s, "utf8")];
  return entries.map((e) => ({
    token: piece(e.token),
    logprob: e.logprob,
    bytes: bytes(piece(e.token)),
    top_logprobs: e.top.map((t) => ({ token: piece(t.token), logprob: t.logprob, bytes: bytes(piece(t.token)) })),
  }));
}
