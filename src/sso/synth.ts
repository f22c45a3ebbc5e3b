// SSO synthesis (METHOD.md §2): prompts in, data records out. Prompts are processed in chunks of `batch`; each stage
// of a chunk is one batched model call (stages.ts), then the chunk's kept records are handed over in prompt order
// (onChunk), so a caller can append them to a file and resume after a crash. Counts of what was dropped and why,
// the feature histogram, response lengths and seconds per stage make up the summary. The log-prob ordering filter
// needs the whole set, so `synthesize` (all in memory) applies it at the end; streaming callers apply
// `applyLogpOrder` to their finished set (see output.ts). Counting and timing live in synth-summary.ts, file
// handling in output.ts and run-synth.ts.
// `synthesizeChunks` runs in-process and synchronously; `synthesizeChunksOn` runs the same steps on any engine.
import { type Engine, LocalEngine, runLocal, runOn, type Steps } from "../engine/engine.js";
import type { Model } from "../model/model.js";
import type { GenerationResult } from "../sample/generate.js";
import { NonFiniteLogitsError } from "../sample/sampling.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import type { SynthConfig } from "./config.js";
import { type FeatureLibrary, loadFeatureLibrary } from "./features.js";
import { responseFilter } from "./filters.js";
import { PAIR_NAMES, type PerResponse, RESPONSES, type Response } from "./pairs.js";
import type { Principle } from "./prompts.js";
import type { SsoRecord } from "./record.js";
import { CONCISION, concisionFeature } from "./select.js";
import {
  type Contrast,
  contrastStage,
  principlesStage,
  type RefScores,
  type Selection,
  type Stage,
  type StageContext,
  type SynthPrompt,
  sampleStage,
  samplingParams,
  scoreStage,
  seedOf,
  selectStage,
} from "./stages.js";

import {
  applyLogpOrder,
  countPrinciples,
  countSelections,
  emptyCounts,
  type StageSeconds,
  type SynthCounts,
  type SynthSummary,
  summarize,
  timed,
  timedSteps,
  zeroSeconds,
} from "./synth-summary.js";

export type { SynthPrompt } from "./stages.js";

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
  if (config.k > lib.features.length)
    throw new Error(`config: k is ${config.k} but the feature library has only ${lib.features.length} features`);
  if (config.concisionProb > 0 && concisionFeature(lib) === undefined) {
    throw new Error(
      `config: concisionProb is ${config.concisionProb} but the feature library has no feature named "${CONCISION}" (set concisionProb to 0)`,
    );
  }
}

type ChunksResult = { records: SsoRecord[]; counts: SynthCounts; seconds: StageSeconds };

/** Runs prompts[start..] chunk by chunk; returns this call's kept records and the running counts and seconds. */
export function synthesizeChunks(
  model: Model,
  tok: Tokenizer,
  prompts: readonly SynthPrompt[],
  config: SynthConfig,
  opts: SynthOptions,
): ChunksResult {
  const engine = new LocalEngine(model, tok.stopIds, (ids) => tok.decode(ids, { skipSpecialTokens: true }));
  try {
    return runLocal(chunkSteps(engine, tok, prompts, config, opts), engine);
  } catch (e) {
    if (e instanceof NonFiniteLogitsError) throw new Error(`${opts.policy.model}: ${e.message}`);
    throw e;
  }
}

/** `synthesizeChunks` on any engine (a remote one: src/remote/); the records equal the in-process ones. */
export function synthesizeChunksOn(
  engine: Engine,
  tok: Tokenizer,
  prompts: readonly SynthPrompt[],
  config: SynthConfig,
  opts: SynthOptions,
): Promise<ChunksResult> {
  return runOn(chunkSteps(engine, tok, prompts, config, opts), engine);
}

function* chunkSteps(
  limits: { maxPositions: number; maxScoreLength: number },
  tok: Tokenizer,
  prompts: readonly SynthPrompt[],
  config: SynthConfig,
  opts: SynthOptions,
): Steps<ChunksResult> {
  const lib = opts.library ?? loadFeatureLibrary(config.features);
  checkConfig(config, lib);
  const start = opts.start ?? 0;
  if (start % config.batch !== 0 && start !== prompts.length)
    throw new Error(`synthesize: start ${start} is not a multiple of batch ${config.batch}`);
  const { maxPositions, maxScoreLength } = limits;
  const ctx: StageContext = {
    maxPositions,
    maxScoreLength,
    tok,
    lib,
    config,
    model: opts.policy.model,
    onProgress: opts.onProgress,
  };
  const counts = structuredClone(opts.counts ?? emptyCounts(lib)),
    seconds = { ...(opts.seconds ?? zeroSeconds()) };
  const all: SsoRecord[] = [];
  for (let a = start; a < prompts.length; a += config.batch) {
    const next = Math.min(a + config.batch, prompts.length);
    const records = yield* processChunk(ctx, prompts.slice(a, next), counts, seconds, opts.policy);
    all.push(...records);
    if (opts.onChunk)
      timed(seconds, "write", () =>
        opts.onChunk!({ records, next, counts: structuredClone(counts), seconds: { ...seconds } }),
      );
  }
  return { records: all, counts, seconds };
}

/** One chunk through the spec's five steps; updates counts and seconds, returns the kept records in prompt order. */
function* processChunk(
  ctx: StageContext,
  chunk: readonly SynthPrompt[],
  counts: SynthCounts,
  seconds: StageSeconds,
  policy: SynthOptions["policy"],
): Steps<SsoRecord[]> {
  counts.prompts += chunk.length;
  const progressSkipped = (stage: Stage, per: number, left: number) =>
    ctx.onProgress?.(stage, per * (chunk.length - left));

  // 1. The policy picks the features that matter for each prompt.
  const selections = yield* timedSteps(seconds, "select", selectStage(ctx, chunk));
  countSelections(counts, selections);
  const live = chunk.flatMap((p, i) => (selections[i] === null ? [] : [{ p, sel: selections[i] }]));

  // 2. Principles for those features: the library's, or query-specific ones the policy writes.
  const { principles, tokens } = yield* timedSteps(
    seconds,
    "principles",
    principlesStage(
      ctx,
      live.map((x) => x.p),
      live.map((x) => x.sel.features),
    ),
  );
  countPrinciples(counts, principles, tokens);

  // 3. Contrastive prompts x+ (good principles), x- (bad principles) and the plain x.
  const contrasted = live.flatMap((x, i) => {
    const contrast = contrastStage(ctx, x.p, x.sel.features, principles[i]);
    if (contrast === null) counts.dropped.too_long++;
    return contrast === null ? [] : [{ ...x, principles: principles[i], contrast }];
  });
  progressSkipped("sample", RESPONSES.length, contrasted.length);

  // 4. Answers y+ ~ π(·|x+), y- ~ π(·|x-), y° ~ π(·|x), then the per-record filters.
  const answers = yield* timedSteps(
    seconds,
    "sample",
    sampleStage(
      ctx,
      contrasted.map((x) => x.p),
      contrasted.map((x) => x.contrast),
    ),
  );
  answers.forEach((a) => RESPONSES.forEach((r) => (counts.generated_tokens += a[r].tokens.length)));
  const kept = contrasted.flatMap((x, i) => {
    const reason = responseFilter(
      perResponse((r) => answers[i][r].text),
      perResponse((r) => answers[i][r].finishReason),
      ctx.config.filters,
    );
    if (reason) counts.dropped[reason]++;
    return reason ? [] : [{ ...x, answers: answers[i] }];
  });
  progressSkipped("score", PAIR_NAMES.length, kept.length);

  // 5. Reference log-probs of the seven (prompt variant, response) pairs; one record per prompt kept.
  const refs = yield* timedSteps(
    seconds,
    "score",
    scoreStage(
      ctx,
      kept.map((x) => x.contrast),
      kept.map((x) => perResponse((r) => x.answers[r].text)),
      kept.map((x) => x.p.id),
    ),
  );
  return kept.flatMap((x, i) => {
    const ref = refs[i];
    if (ref === null) counts.dropped.too_long++;
    return ref === null ? [] : [toRecord(ctx, x.p, x.sel, x.principles, x.contrast, x.answers, ref, policy)];
  });
}

const perResponse = <T>(f: (r: Response) => T): PerResponse<T> =>
  Object.fromEntries(RESPONSES.map((r) => [r, f(r)])) as PerResponse<T>;

const assistant = (content: string): [{ role: "assistant"; content: string }] => [{ role: "assistant", content }];

function toRecord(
  ctx: StageContext,
  p: SynthPrompt,
  sel: Selection,
  principles: Principle[],
  c: Contrast,
  a: PerResponse<GenerationResult>,
  ref: RefScores,
  policy: SynthOptions["policy"],
): SsoRecord {
  const { config } = ctx,
    s = samplingParams(config).chosen;
  return {
    id: p.id,
    prompt_index: p.index,
    iteration: config.iteration,
    prompt: p.messages.map((m) => ({ role: m.role as "user" | "assistant", content: m.content })),
    chosen: assistant(a.chosen.text),
    rejected: assistant(a.rejected.text),
    raw: assistant(a.raw.text),
    features: sel.features,
    principle_sources: principles.map((pr) => pr.source),
    system_pos: c.systemPos,
    system_neg: c.systemNeg,
    finish_reasons: perResponse((r) => a[r].finishReason),
    sampling: {
      temperature: s.temperature,
      top_p: s.topP,
      top_k: s.topK,
      max_new_tokens: s.maxNewTokens,
      raw_greedy: config.sampling.rawGreedy,
    },
    seed: config.seed,
    sample_seeds: perResponse((r) => seedOf(ctx, p, r)),
    policy_model: policy.model,
    policy_hash: policy.hash,
    ...ref,
  };
}

/** Synthesis in memory: every prompt, the ordering filter when configured, and the summary. */
export function synthesize(
  model: Model,
  tok: Tokenizer,
  prompts: readonly SynthPrompt[],
  config: SynthConfig,
  opts: SynthOptions,
): { records: SsoRecord[]; summary: SynthSummary } {
  const run = synthesizeChunks(model, tok, prompts, config, opts);
  let { records, counts } = run;
  if (config.filters.logpOrder)
    ({ records, counts } = timed(run.seconds, "filter", () => applyLogpOrder(records, counts)));
  return { records, summary: summarize(counts, records, run.seconds) };
}
