// The model-facing stages of SSO synthesis (METHOD.md §2), each over a chunk of prompts with one batched model call:
// feature selection, query-specific principles, contrastive prompts, sampling y+/y-/y°, and reference scoring of
// every (prompt variant, response) pair. Seeds come from (seed, iteration, prompt index) only. Orchestration,
// counting and output live in synth.ts; texts in prompts.ts; the random choices in select.ts. The stages yield
// their model calls (src/engine/engine.ts), so the same code runs in-process or against a remote engine.
import { type EngineRequest, generateCall, type Steps, scoreCall } from "../engine/engine.js";
import { checkFiniteLogp, type ScoreItem } from "../model/score.js";
import type { GenerationResult } from "../sample/generate.js";
import type { SamplingParams } from "../sample/sampling.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import type { SynthConfig } from "./config.js";
import type { Feature, FeatureLibrary } from "./features.js";
import {
  PAIR_NAMES,
  PAIRS,
  type PerResponse,
  type PerVariant,
  RESPONSES,
  type RefColumn,
  SAMPLED_FROM,
} from "./pairs.js";
import {
  contrastivePrompts,
  libraryPrinciples,
  type Principle,
  parseFeatureList,
  parsePrinciples,
  principleMessages,
  queryText,
  selectionMessages,
  systemMessage,
} from "./prompts.js";
import { chooseFeatures, type FeatureChoice, type Stream, streamSeed } from "./select.js";

/** One input prompt: its 0-based index in the prompts file, its id, and the conversation (no system message). */
export interface SynthPrompt {
  index: number;
  id: string;
  messages: ChatMessage[];
}

export type Stage = "select" | "principles" | "sample" | "score";

export interface StageContext {
  /** The model's context length: prompt + answer budget must fit it. */
  maxPositions: number;
  /** The longest (prompt variant, response) pair the engine can score. */
  maxScoreLength: number;
  tok: Tokenizer;
  lib: FeatureLibrary;
  config: SynthConfig;
  /** The policy model (its folder), named by errors about its outputs. */
  model?: string;
  /** Called as work finishes: n units of a stage (prompts for select/principles, answers for sample, pairs for score). */
  onProgress?: (stage: Stage, n: number) => void;
}

export const seedOf = (ctx: StageContext, p: SynthPrompt, s: Stream): number =>
  streamSeed(ctx.config.seed, ctx.config.iteration, p.index, s);

const fits = (ctx: StageContext, ids: readonly number[], maxNew: number): boolean =>
  ids.length + maxNew <= ctx.maxPositions;

/** Encodes messages as a generation request (the messages travel along for engines that only take chat). */
const request = (tok: Tokenizer, messages: ChatMessage[], params: SamplingParams, seed: number): EngineRequest => ({
  promptIds: tok.encodePrompt(messages),
  params,
  seed,
  messages,
});

/** Runs one batched generate call for the requests that are not null; null requests get null results. */
function* generateSome(
  ctx: StageContext,
  stage: Stage,
  requests: (EngineRequest | null)[],
): Steps<(GenerationResult | null)[]> {
  const live = requests.filter((r): r is EngineRequest => r !== null);
  const results = yield* generateCall(live, { onResult: () => ctx.onProgress?.(stage, 1) });
  let next = 0;
  return requests.map((r) => (r === null ? null : results[next++]));
}

export interface Selection extends FeatureChoice {
  /** The policy's raw answer. */
  answer: string;
  tokens: number;
}

/** Feature selection for a chunk; null where the selection prompt does not fit the model's context. */
export function* selectStage(ctx: StageContext, prompts: readonly SynthPrompt[]): Steps<(Selection | null)[]> {
  const { selection: s, k, concisionProb } = ctx.config;
  const params: SamplingParams = {
    temperature: s.temperature,
    topP: s.topP,
    topK: 0,
    maxNewTokens: s.maxNewTokens,
    stop: [],
  };
  const requests = prompts.map((p) => {
    const r = request(ctx.tok, selectionMessages(ctx.lib, queryText(p.messages)), params, seedOf(ctx, p, "selection"));
    return fits(ctx, r.promptIds, s.maxNewTokens) ? r : null;
  });
  return (yield* generateSome(ctx, "select", requests)).map((r, i) => {
    if (r === null) return null;
    const named = parseFeatureList(r.text, ctx.lib);
    const choice = chooseFeatures(
      named,
      ctx.lib,
      k,
      concisionProb,
      seedOf(ctx, prompts[i], "padding"),
      seedOf(ctx, prompts[i], "concision"),
    );
    return { ...choice, answer: r.text, tokens: r.tokens.length };
  });
}

const featuresOf = (ctx: StageContext, names: readonly string[]): Feature[] =>
  names.map((n) => ctx.lib.features.find((f) => f.name === n)!);

/** The principles of each prompt's features: the library's, or (queryPrinciples) the policy's with fallback. */
export function* principlesStage(
  ctx: StageContext,
  prompts: readonly SynthPrompt[],
  features: readonly string[][],
): Steps<{ principles: Principle[][]; tokens: number }> {
  if (!ctx.config.queryPrinciples) {
    ctx.onProgress?.("principles", prompts.length);
    return { principles: features.map((names) => libraryPrinciples(featuresOf(ctx, names))), tokens: 0 };
  }
  const c = ctx.config.principles;
  const params: SamplingParams = {
    temperature: c.temperature,
    topP: c.topP,
    topK: 0,
    maxNewTokens: c.maxNewTokens,
    stop: [],
  };
  const requests = prompts.map((p, i) => {
    const r = request(
      ctx.tok,
      principleMessages(ctx.lib, featuresOf(ctx, features[i]), queryText(p.messages)),
      params,
      seedOf(ctx, p, "principles"),
    );
    return fits(ctx, r.promptIds, c.maxNewTokens) ? r : null;
  });
  const results = yield* generateSome(ctx, "principles", requests);
  ctx.onProgress?.("principles", results.filter((r) => r === null).length);
  return {
    principles: results.map((r, i) => parsePrinciples(r?.text ?? "", featuresOf(ctx, features[i]))),
    tokens: results.reduce((n, r) => n + (r?.tokens.length ?? 0), 0),
  };
}

/** x+, x- and x of one prompt, as messages and as prompt ids. */
export interface Contrast {
  systemPos: string;
  systemNeg: string;
  messages: PerVariant<ChatMessage[]>;
  ids: PerVariant<number[]>;
}

/** Builds x+, x- and x; null when one of them plus the answer budget does not fit the model's context. */
export function contrastStage(
  ctx: StageContext,
  prompt: SynthPrompt,
  featureNames: readonly string[],
  principles: readonly Principle[],
): Contrast | null {
  const features = featuresOf(ctx, featureNames);
  const systemPos = systemMessage("pos", features, principles),
    systemNeg = systemMessage("neg", features, principles);
  const messages = contrastivePrompts(prompt.messages, systemPos, systemNeg);
  const ids = {
    plain: ctx.tok.encodePrompt(messages.plain),
    pos: ctx.tok.encodePrompt(messages.pos),
    neg: ctx.tok.encodePrompt(messages.neg),
  };
  const maxNew = ctx.config.sampling.maxNewTokens;
  if (![ids.plain, ids.pos, ids.neg].every((x) => fits(ctx, x, maxNew))) return null;
  return { systemPos, systemNeg, messages, ids };
}

/** The sampling settings of y+ / y- and of y° (greedy with rawGreedy). */
export function samplingParams(config: SynthConfig): PerResponse<SamplingParams> {
  const s = config.sampling;
  const p: SamplingParams = {
    temperature: s.temperature,
    topP: s.topP,
    topK: s.topK,
    maxNewTokens: s.maxNewTokens,
    stop: [],
  };
  return { chosen: p, rejected: p, raw: s.rawGreedy ? { ...p, temperature: 0 } : p };
}

/** Samples y+ ~ π(·|x+), y- ~ π(·|x-), y° ~ π(·|x) for every prompt of a chunk in one generate call. */
export function* sampleStage(
  ctx: StageContext,
  prompts: readonly SynthPrompt[],
  contrasts: readonly Contrast[],
): Steps<PerResponse<GenerationResult>[]> {
  const params = samplingParams(ctx.config);
  const requests = contrasts.flatMap((c, i) =>
    RESPONSES.map((r) => {
      const variant = SAMPLED_FROM[r];
      return {
        promptIds: c.ids[variant],
        params: params[r],
        seed: seedOf(ctx, prompts[i], r),
        messages: c.messages[variant],
      };
    }),
  );
  const results = (yield* generateSome(ctx, "sample", requests)) as GenerationResult[];
  const n = RESPONSES.length;
  return contrasts.map(
    (_, i) => Object.fromEntries(RESPONSES.map((r, k) => [r, results[n * i + k]])) as PerResponse<GenerationResult>,
  );
}

export type RefScores = Record<RefColumn, number> & {
  chosen_n_tokens: number;
  rejected_n_tokens: number;
  raw_n_tokens: number;
};

/**
 * Reference log-probs of a chunk in one scoring call. The ids are the chat encoding the trainer uses
 * (encodeChat: prompt with generation prompt, response + end-of-turn), not the sampled ids. Null where a pair is
 * longer than the engine can score (a re-encoded answer can be longer than the sampled one).
 */
export function* scoreStage(
  ctx: StageContext,
  contrasts: readonly Contrast[],
  answers: readonly PerResponse<string>[],
  /** The prompts' ids, for errors (default: their positions in the chunk). */
  ids?: readonly string[],
): Steps<(RefScores | null)[]> {
  const perRecord = contrasts.map((c, i) => {
    const items = PAIR_NAMES.map((p) =>
      ctx.tok.encodeChat(c.messages[PAIRS[p].variant], answers[i][PAIRS[p].response]),
    );
    const counts: Partial<PerResponse<number>> = {};
    items.forEach((it, j) => {
      const kind = PAIRS[PAIR_NAMES[j]].response;
      if (counts[kind] !== undefined && counts[kind] !== it.responseIds.length)
        throw new Error(
          `internal: answer ${kind} of prompt ${i} has ${counts[kind]} tokens after one prompt variant and ${it.responseIds.length} after another`,
        );
      counts[kind] = it.responseIds.length;
    });
    const ok = items.every((it) => it.promptIds.length + it.responseIds.length <= ctx.maxScoreLength);
    return ok ? { items, counts: counts as PerResponse<number> } : null;
  });
  const flat: ScoreItem[] = perRecord.flatMap((r) => r?.items ?? []);
  const scores = yield* scoreCall(flat, {
    maxBatchTokens: ctx.config.scoreBatchTokens,
    onBatch: (n) => ctx.onProgress?.("score", n),
  });
  ctx.onProgress?.("score", perRecord.filter((r) => r === null).length * PAIR_NAMES.length);
  let next = 0;
  return perRecord.map((r, i) => {
    if (r === null) return null;
    const out = {
      chosen_n_tokens: r.counts.chosen,
      rejected_n_tokens: r.counts.rejected,
      raw_n_tokens: r.counts.raw,
    } as RefScores;
    for (const p of PAIR_NAMES) {
      const logp = scores[next++].logp; // a remote engine's too: a NaN would be a null in the record
      checkFiniteLogp(
        logp,
        ctx.model ?? "the policy model",
        `pair ${p} of prompt ${ids?.[i] ?? `#${i + 1} of the chunk`}`,
      );
      out[PAIRS[p].ref] = logp;
    }
    return out;
  });
}
