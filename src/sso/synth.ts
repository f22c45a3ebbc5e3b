// SSO synthesis (SSO-SPEC §2): prompts in, data records out. Prompts are processed in chunks of `batch`; each stage
// of a chunk is one batched model call (stages.ts), then the chunk's kept records are handed over in prompt order
// (onChunk), so a caller can append them to a file and resume after a crash. Counts of what was dropped and why,
// the feature histogram, response lengths and seconds per stage make up the summary. The log-prob ordering filter
// needs the whole set, so `synthesize` (all in memory) applies it at the end; streaming callers apply
// `applyLogpOrder` to their finished set (see output.ts). File handling lives in output.ts and the CLI.
// `synthesizeChunks` runs in-process and synchronously; `synthesizeChunksOn` runs the same steps on any engine.
import { LocalEngine, runLocal, runOn, type Engine, type Steps } from "../engine/engine.js";
import type { Model } from "../model/model.js";
import type { GenerationResult } from "../sample/generate.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import type { SynthConfig } from "./config.js";
import { loadFeatureLibrary, type FeatureLibrary } from "./features.js";
import { DROP_REASONS, logpOrderFilter, responseFilter, type Answers, type DropReason } from "./filters.js";
import type { Principle } from "./prompts.js";
import type { SsoRecord } from "./record.js";
import { CONCISION, concisionFeature } from "./select.js";
import {
  contrastStage, principlesStage, sampleStage, samplingParams, scoreStage, seedOf, selectStage, type Contrast, type RefScores,
  type Selection, type Stage, type StageContext, type SynthPrompt,
} from "./stages.js";

export type { SynthPrompt } from "./stages.js";

/** Timed parts of a run: the four model stages, writing output, and the final ordering filter. */
export const TIMED = ["select", "principles", "sample", "score", "write", "filter"] as const;
export type StageSeconds = Record<(typeof TIMED)[number], number>;
export const zeroSeconds = (): StageSeconds => ({ select: 0, principles: 0, sample: 0, score: 0, write: 0, filter: 0 });

/** What a run has seen that its kept records alone do not tell (those give kept, features_kept and lengths). */
export interface SynthCounts {
  prompts: number;
  dropped: Record<DropReason, number>;
  /** Features chosen per prompt (policy, padding and Concision), over every prompt that got features. */
  features_selected: Record<string, number>;
  /** Over those prompts' features: named by the policy, random padding, added by the Concision coin. */
  selection: { from_policy: number; padded: number; concision_added: number };
  /** Per feature: principles written by the policy or taken from the library. */
  principles: { policy: number; library: number };
  generated_tokens: number;
}

export function emptyCounts(lib: FeatureLibrary): SynthCounts {
  return {
    prompts: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    features_selected: Object.fromEntries(lib.features.map((f) => [f.name, 0])),
    selection: { from_policy: 0, padded: 0, concision_added: 0 },
    principles: { policy: 0, library: 0 },
    generated_tokens: 0,
  };
}

export interface SynthOptions {
  /** Defaults to the library of config.features. */
  library?: FeatureLibrary;
  /** Written into every record: the model folder as given and its policyHash. */
  policy: { model: string; hash: string };
  /** Resume: the first prompt index to process (a multiple of config.batch), with the counts and seconds so far. */
  start?: number;
  counts?: SynthCounts;
  seconds?: StageSeconds;
  /** Called after each chunk, in order, with its kept records and the running totals. */
  onChunk?: (chunk: { records: SsoRecord[]; next: number; counts: SynthCounts; seconds: StageSeconds }) => void;
  onProgress?: (stage: Stage, n: number) => void;
}

/** Errors for a config that cannot work with a library. */
export function checkConfig(config: SynthConfig, lib: FeatureLibrary): void {
  if (config.k > lib.features.length) throw new Error(`config: k is ${config.k} but the feature library has only ${lib.features.length} features`);
  if (config.concisionProb > 0 && concisionFeature(lib) === undefined) {
    throw new Error(`config: concisionProb is ${config.concisionProb} but the feature library has no feature named "${CONCISION}" (set concisionProb to 0)`);
  }
}

const timed = <T>(seconds: StageSeconds, stage: keyof StageSeconds, fn: () => T): T => {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    seconds[stage] += (performance.now() - t0) / 1000;
  }
};

/** `timed` for steps: the stage's seconds include the time its engine calls take. */
function* timedSteps<T>(seconds: StageSeconds, stage: keyof StageSeconds, steps: Steps<T>): Steps<T> {
  const t0 = performance.now();
  try {
    return yield* steps;
  } finally {
    seconds[stage] += (performance.now() - t0) / 1000;
  }
}

type ChunksResult = { records: SsoRecord[]; counts: SynthCounts; seconds: StageSeconds };

/** Runs prompts[start..] chunk by chunk; returns this call's kept records and the running counts and seconds. */
export function synthesizeChunks(model: Model, tok: Tokenizer, prompts: readonly SynthPrompt[], config: SynthConfig, opts: SynthOptions): ChunksResult {
  const engine = new LocalEngine(model, tok.stopIds, (ids) => tok.decode(ids, { skipSpecialTokens: true }));
  return runLocal(chunkSteps(engine.maxPositions, tok, prompts, config, opts), engine);
}

/** `synthesizeChunks` on any engine (a remote one: src/remote/); the records equal the in-process ones. */
export function synthesizeChunksOn(engine: Engine, tok: Tokenizer, prompts: readonly SynthPrompt[], config: SynthConfig, opts: SynthOptions): Promise<ChunksResult> {
  return runOn(chunkSteps(engine.maxPositions, tok, prompts, config, opts), engine);
}

function* chunkSteps(maxPositions: number, tok: Tokenizer, prompts: readonly SynthPrompt[], config: SynthConfig, opts: SynthOptions): Steps<ChunksResult> {
  const lib = opts.library ?? loadFeatureLibrary(config.features);
  checkConfig(config, lib);
  const start = opts.start ?? 0;
  if (start % config.batch !== 0 && start !== prompts.length) throw new Error(`synthesize: start ${start} is not a multiple of batch ${config.batch}`);
  const ctx: StageContext = { maxPositions, tok, lib, config, onProgress: opts.onProgress };
  const counts = structuredClone(opts.counts ?? emptyCounts(lib)), seconds = { ...(opts.seconds ?? zeroSeconds()) };
  const all: SsoRecord[] = [];
  for (let a = start; a < prompts.length; a += config.batch) {
    const next = Math.min(a + config.batch, prompts.length);
    const records = yield* processChunk(ctx, prompts.slice(a, next), counts, seconds, opts.policy);
    all.push(...records);
    if (opts.onChunk) timed(seconds, "write", () => opts.onChunk!({ records, next, counts: structuredClone(counts), seconds: { ...seconds } }));
  }
  return { records: all, counts, seconds };
}

/** One chunk through every stage; updates counts and seconds, returns the kept records in prompt order. */
function* processChunk(ctx: StageContext, chunk: readonly SynthPrompt[], counts: SynthCounts, seconds: StageSeconds, policy: SynthOptions["policy"]): Steps<SsoRecord[]> {
  counts.prompts += chunk.length;
  const drop = (reason: DropReason) => counts.dropped[reason]++;
  const selections = yield* timedSteps(seconds, "select", selectStage(ctx, chunk));
  const live = chunk.map((p, i) => ({ p, sel: selections[i] })).filter((x): x is { p: SynthPrompt; sel: Selection } => x.sel !== null);
  for (const s of selections) {
    if (s === null) drop("too_long");
    else {
      counts.generated_tokens += s.tokens;
      s.features.forEach((f) => (counts.features_selected[f] = (counts.features_selected[f] ?? 0) + 1));
      counts.selection.from_policy += s.fromPolicy;
      counts.selection.padded += s.padded;
      counts.selection.concision_added += s.concisionAdded ? 1 : 0;
    }
  }
  const { principles, tokens } = yield* timedSteps(seconds, "principles", principlesStage(ctx, live.map((x) => x.p), live.map((x) => x.sel.features)));
  counts.generated_tokens += tokens;
  principles.flat().forEach((pr) => counts.principles[pr.source]++);

  const withContrast = live.map((x, i) => ({ ...x, principles: principles[i], contrast: contrastStage(ctx, x.p, x.sel.features, principles[i]) }));
  withContrast.filter((x) => x.contrast === null).forEach(() => drop("too_long"));
  ctx.onProgress?.("sample", 3 * (chunk.length - withContrast.filter((x) => x.contrast !== null).length));
  const sampled = withContrast.filter((x): x is typeof x & { contrast: Contrast } => x.contrast !== null);
  const answers = yield* timedSteps(seconds, "sample", sampleStage(ctx, sampled.map((x) => x.p), sampled.map((x) => x.contrast)));
  answers.forEach((a) => (counts.generated_tokens += a.pos.tokens.length + a.neg.tokens.length + a.raw.tokens.length));

  const text = (a: Answers<GenerationResult>): Answers<string> => ({ pos: a.pos.text, neg: a.neg.text, raw: a.raw.text });
  const kept = sampled.map((x, i) => ({ ...x, answers: answers[i] })).filter((x) => {
    const reason = responseFilter(text(x.answers), { pos: x.answers.pos.finishReason, neg: x.answers.neg.finishReason, raw: x.answers.raw.finishReason }, { dropTruncated: ctx.config.filters.dropTruncated });
    if (reason) drop(reason);
    return reason === null;
  });
  ctx.onProgress?.("score", 7 * (chunk.length - kept.length));
  const refs = yield* timedSteps(seconds, "score", scoreStage(ctx, kept.map((x) => x.contrast), kept.map((x) => text(x.answers))));
  const records: SsoRecord[] = [];
  kept.forEach((x, i) => {
    const ref = refs[i];
    if (ref === null) drop("too_long");
    else records.push(toRecord(ctx, x.p, x.sel, x.principles, x.contrast, x.answers, ref, policy));
  });
  return records;
}

const assistant = (content: string): [{ role: "assistant"; content: string }] => [{ role: "assistant", content }];

function toRecord(ctx: StageContext, p: SynthPrompt, sel: Selection, principles: Principle[], c: Contrast, a: Answers<GenerationResult>, ref: RefScores, policy: SynthOptions["policy"]): SsoRecord {
  const { config } = ctx, s = samplingParams(config).pos;
  return {
    id: p.id,
    prompt_index: p.index,
    iteration: config.iteration,
    prompt: p.messages.map((m) => ({ role: m.role as "user" | "assistant", content: m.content })),
    chosen: assistant(a.pos.text),
    rejected: assistant(a.neg.text),
    raw: assistant(a.raw.text),
    features: sel.features,
    principle_sources: principles.map((pr) => pr.source),
    system_pos: c.systemPos,
    system_neg: c.systemNeg,
    finish_reasons: { chosen: a.pos.finishReason, rejected: a.neg.finishReason, raw: a.raw.finishReason },
    sampling: { temperature: s.temperature, top_p: s.topP, top_k: s.topK, max_new_tokens: s.maxNewTokens, raw_greedy: config.sampling.rawGreedy },
    seed: config.seed,
    sample_seeds: { chosen: seedOf(ctx, p, "chosen"), rejected: seedOf(ctx, p, "rejected"), raw: seedOf(ctx, p, "raw") },
    policy_model: policy.model,
    policy_hash: policy.hash,
    ref_chosen_logps: ref.ref_chosen_logps,
    ref_rejected_logps: ref.ref_rejected_logps,
    ref_pos_chosen_logps: ref.ref_pos_chosen_logps,
    ref_pos_rejected_logps: ref.ref_pos_rejected_logps,
    ref_neg_chosen_logps: ref.ref_neg_chosen_logps,
    ref_neg_rejected_logps: ref.ref_neg_rejected_logps,
    ref_neg_raw_logps: ref.ref_neg_raw_logps,
    chosen_n_tokens: ref.chosen_n_tokens,
    rejected_n_tokens: ref.rejected_n_tokens,
    raw_n_tokens: ref.raw_n_tokens,
  };
}

/** The ordering filter over a finished set: the kept records, with the drops added to a copy of the counts. */
export function applyLogpOrder(records: readonly SsoRecord[], counts: SynthCounts): { records: SsoRecord[]; counts: SynthCounts } {
  const reasons = logpOrderFilter(records);
  const out = structuredClone(counts);
  reasons.forEach((r) => r && out.dropped[r]++);
  return { records: records.filter((_, i) => reasons[i] === null), counts: out };
}

export interface SynthSummary extends SynthCounts {
  kept: number;
  /** Features of the kept records. */
  features_kept: Record<string, number>;
  /** Response tokens of the kept records as scored (end-of-turn included). */
  lengths: Record<"chosen" | "rejected" | "raw", { mean: number; median: number }>;
  /** Varies between runs; everything above is determined by the inputs. */
  timing: { seconds: StageSeconds & { total: number }; share: StageSeconds; prompts_per_minute: number; records_per_minute: number };
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function stats(xs: readonly number[]): { mean: number; median: number } {
  if (xs.length === 0) return { mean: 0, median: 0 };
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return { mean: round(s.reduce((a, b) => a + b, 0) / s.length), median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 };
}

/** The summary of a finished set: counts, what the kept records tell, and timing. */
export function summarize(counts: SynthCounts, records: readonly Pick<SsoRecord, "features" | "chosen_n_tokens" | "rejected_n_tokens" | "raw_n_tokens">[], seconds: StageSeconds): SynthSummary {
  const features_kept = Object.fromEntries(Object.keys(counts.features_selected).map((f) => [f, 0]));
  records.forEach((r) => r.features.forEach((f) => (features_kept[f] = (features_kept[f] ?? 0) + 1)));
  const total = TIMED.reduce((s, k) => s + seconds[k], 0);
  const minutes = Math.max(total, 1e-9) / 60;
  return {
    ...counts,
    kept: records.length,
    features_kept,
    lengths: { chosen: stats(records.map((r) => r.chosen_n_tokens)), rejected: stats(records.map((r) => r.rejected_n_tokens)), raw: stats(records.map((r) => r.raw_n_tokens)) },
    timing: {
      seconds: { ...(Object.fromEntries(TIMED.map((k) => [k, round(seconds[k])])) as StageSeconds), total: round(total) },
      share: Object.fromEntries(TIMED.map((k) => [k, round(total > 0 ? seconds[k] / total : 0)])) as StageSeconds,
      prompts_per_minute: round(counts.prompts / minutes, 1),
      records_per_minute: round(records.length / minutes, 1),
    },
  };
}

/** Synthesis in memory: every prompt, the ordering filter when configured, and the summary. */
export function synthesize(model: Model, tok: Tokenizer, prompts: readonly SynthPrompt[], config: SynthConfig, opts: SynthOptions): { records: SsoRecord[]; summary: SynthSummary } {
  const run = synthesizeChunks(model, tok, prompts, config, opts);
  let { records, counts } = run;
  if (config.filters.logpOrder) ({ records, counts } = timed(run.seconds, "filter", () => applyLogpOrder(records, counts)));
  return { records, summary: summarize(counts, records, run.seconds) };
}
