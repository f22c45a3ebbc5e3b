// Evaluation of a model: answers generated for a list of chat prompts (greedy by default, batched), then either the
// principle world's checkers (`evaluateWorld`: per-feature pass rates over the prompts each feature applies to, the
// overall score, mean response length) or exact match against reference answers (`evaluateExact`). The summaries
// are pure functions of the answers (`summarizeWorld`, `exactMatch`) so they can be tested without a model. Files
// and printing live in the CLI (cli/eval.ts).
import type { Model } from "../model/model.js";
import { type FinishReason, type GenerateOptions, type GenerationResult, generate } from "../sample/generate.js";
import { mixSeed } from "../tensor/rng.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import { type Checks, checkResponse, checkText, meanPass, WORLD_FEATURES, type WorldFeature } from "./check.js";
import { isWellFormed } from "./words.js";
import { FAMILIES, type Family, type WorldPrompt } from "./world.js";

export interface AnswerOptions {
  /** Token limit per answer (default 128). */
  maxNewTokens?: number;
  /** Sequences decoded together (default 16). */
  batch?: number;
  /** 0 = greedy (default); otherwise sampled with top-p 0.8 from per-prompt seeds. */
  temperature?: number;
  seed?: number;
  /** Called once per finished answer. */
  onAnswer?: () => void;
  /** Called with every sampled token and its logits row (GenerateOptions.onToken; e.g. a check that they are finite). */
  onToken?: GenerateOptions["onToken"];
}

/** One answer per conversation, rendered with the model's chat template and a generation prompt; in input order. */
export function answerAll(
  model: Model,
  tok: Tokenizer,
  conversations: readonly ChatMessage[][],
  opts: AnswerOptions = {},
): GenerationResult[] {
  const temperature = opts.temperature ?? 0;
  const params = {
    temperature,
    topP: temperature === 0 ? 1 : 0.8,
    topK: 0,
    maxNewTokens: opts.maxNewTokens ?? 128,
    stop: [],
  };
  const requests = conversations.map((messages, i) => ({
    promptIds: tok.encodePrompt(messages),
    params,
    seed: mixSeed(opts.seed ?? 0, i),
  }));
  return generate(model, requests, {
    maxBatch: opts.batch ?? 16,
    eosIds: tok.stopIds,
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    onResult: () => opts.onAnswer?.(),
    onToken: opts.onToken,
  });
}

// ---- the world ----

export interface WorldResult {
  id: string;
  family: Family;
  prompt: string;
  response: string;
  checks: Checks;
  finish_reason: FinishReason;
  n_tokens: number;
  /** Every word is a world word (see words.ts): false flags degenerate text the feature checks may let through. */
  well_formed: boolean;
}

export interface FeatureRate {
  passed: number;
  /** Prompts the feature applies to. */
  n: number;
  /** passed / n; null when it applies to none. */
  rate: number | null;
}

export interface WorldSummary {
  prompts: number;
  features: Record<WorldFeature, FeatureRate>;
  /** Mean over prompts of the mean pass rate over that prompt's applicable features. */
  overall: number | null;
  /** Share of answers that are well-formed (null for no answers). */
  well_formed: number | null;
  families: Record<Family, { n: number; overall: number | null }>;
  mean_chars: number;
  mean_tokens: number;
}

const mean = (xs: readonly number[]): number | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;

/** Checks each (prompt, answer) pair. */
export function checkAll(
  prompts: readonly WorldPrompt[],
  answers: readonly { text: string; finishReason: FinishReason; tokens: readonly number[] }[],
): WorldResult[] {
  return prompts.map((p, i) => ({
    id: p.id,
    family: p.task.family,
    prompt: p.text,
    response: answers[i].text,
    checks: checkResponse(p, answers[i].text),
    finish_reason: answers[i].finishReason,
    n_tokens: answers[i].tokens.length,
    well_formed: isWellFormed(answers[i].text),
  }));
}

/** Pass rates per feature and family, the overall score and mean lengths of checked results. */
export function summarizeWorld(results: readonly WorldResult[]): WorldSummary {
  const features = Object.fromEntries(
    WORLD_FEATURES.map((f) => {
      const applicable = results.map((r) => r.checks[f]).filter((v): v is boolean => v !== null);
      const passed = applicable.filter(Boolean).length;
      return [f, { passed, n: applicable.length, rate: applicable.length ? passed / applicable.length : null }];
    }),
  ) as Record<WorldFeature, FeatureRate>;
  const scores = (rs: readonly WorldResult[]) =>
    rs.map((r) => meanPass(r.checks)).filter((v): v is number => v !== null);
  const families = Object.fromEntries(
    FAMILIES.map((fam) => {
      const rs = results.filter((r) => r.family === fam);
      return [fam, { n: rs.length, overall: mean(scores(rs)) }];
    }),
  ) as Record<Family, { n: number; overall: number | null }>;
  return {
    prompts: results.length,
    features,
    overall: mean(scores(results)),
    well_formed: mean(results.map((r) => (r.well_formed ? 1 : 0))),
    families,
    mean_chars: mean(results.map((r) => r.response.length)) ?? 0,
    mean_tokens: mean(results.map((r) => r.n_tokens)) ?? 0,
  };
}

/** Generates answers to world prompts (as single user turns) and checks them. */
export function evaluateWorld(
  model: Model,
  tok: Tokenizer,
  prompts: readonly WorldPrompt[],
  opts: AnswerOptions = {},
): { summary: WorldSummary; results: WorldResult[] } {
  const answers = answerAll(
    model,
    tok,
    prompts.map((p) => [{ role: "user", content: p.text }]),
    opts,
  );
  const results = checkAll(prompts, answers);
  return { summary: summarizeWorld(results), results };
}

// ---- exact match on user data ----

/**
 * The normal form exact match compares: Unicode NFKC, whitespace trimmed at both ends, every inner run of
 * whitespace made one space, lower case. Punctuation is kept ("Paris." does not match "Paris").
 */
export const normalizeAnswer = (s: string): string => s.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();

/** Whether the response equals one of the references after normalisation. */
export const exactMatch = (response: string, references: readonly string[]): boolean =>
  references.some((r) => normalizeAnswer(r) === normalizeAnswer(response));

export interface ExactItem {
  messages: ChatMessage[];
  references: string[];
  line?: number;
}

export interface ExactResult {
  line?: number;
  response: string;
  references: string[];
  correct: boolean;
  n_tokens: number;
}

export interface ExactSummary {
  n: number;
  correct: number;
  accuracy: number | null;
  mean_chars: number;
  mean_tokens: number;
}

export function summarizeExact(results: readonly ExactResult[]): ExactSummary {
  const correct = results.filter((r) => r.correct).length;
  return {
    n: results.length,
    correct,
    accuracy: results.length ? correct / results.length : null,
    mean_chars: mean(results.map((r) => r.response.length)) ?? 0,
    mean_tokens: mean(results.map((r) => r.n_tokens)) ?? 0,
  };
}

/** Generates an answer per item and counts exact matches. */
export function evaluateExact(
  model: Model,
  tok: Tokenizer,
  items: readonly ExactItem[],
  opts: AnswerOptions = {},
): { summary: ExactSummary; results: ExactResult[] } {
  const answers = answerAll(
    model,
    tok,
    items.map((it) => it.messages),
    opts,
  );
  const results = items.map(
    (it, i): ExactResult => ({
      ...(it.line !== undefined ? { line: it.line } : {}),
      response: answers[i].text,
      references: it.references,
      correct: exactMatch(answers[i].text, it.references),
      n_tokens: answers[i].tokens.length,
    }),
  );
  return { summary: summarizeExact(results), results };
}

// ---- synthesised pairs ----

/** How well self-steered pairs agree with the world's checkers: mean pass rate (0–1) of y+, y- and y° over the
 * records, and how often y+ scores above / below y° (the plain answer the pair is meant to improve on). */
export interface PairJudgement {
  records: number;
  chosen: number | null;
  rejected: number | null;
  raw: number | null;
  chosen_above_rejected: number;
  chosen_above_raw: number;
  chosen_below_raw: number;
}

/** Judges (user prompt, y+, y-, y°) triples with the world's checkers; throws on a prompt that is not a world prompt. */
export function judgePairs(
  pairs: readonly { prompt: string; chosen: string; rejected: string; raw: string }[],
): PairJudgement {
  const scores = pairs.map((p) => {
    const s = (y: string) => meanPass(checkText(p.prompt, y));
    return { chosen: s(p.chosen), rejected: s(p.rejected), raw: s(p.raw) };
  });
  const avg = (k: "chosen" | "rejected" | "raw") =>
    mean(scores.map((s) => s[k]).filter((v): v is number => v !== null));
  const count = (f: (s: (typeof scores)[number]) => boolean) => scores.filter((s) => s.chosen !== null && f(s)).length;
  return {
    records: pairs.length,
    chosen: avg("chosen"),
    rejected: avg("rejected"),
    raw: avg("raw"),
    chosen_above_rejected: count((s) => s.chosen! > s.rejected!),
    chosen_above_raw: count((s) => s.chosen! > s.raw!),
    chosen_below_raw: count((s) => s.chosen! < s.raw!),
  };
}
