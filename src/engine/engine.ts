// The engine behind synthesis: what samples completions and scores continuations. Synthesis stages describe
// their model work as `EngineCall`s (one batched call per stage and chunk) and a driver hands each call to an
// engine: the in-process `LocalEngine` (synchronously, so in-process synthesis stays a plain function call) or a
// remote one over HTTP (src/remote/). Token ids in, tokens and numbers out: tokenisation and chat templates are
// always ours, so every engine samples from and scores exactly the ids we train on.

import type { Model } from "../model/model.js";
import { type ScoreItem, type ScoreResult, scoreItems } from "../model/score.js";
import { type GenerationRequest, type GenerationResult, generate } from "../sample/generate.js";
import type { ChatMessage } from "../tokenizer/tokenizer.js";

/** A generation request; `messages` are what promptIds encode (for engines and tests that want the text). */
export interface EngineRequest extends GenerationRequest {
  messages?: ChatMessage[];
}

export interface GenerateCallOptions {
  /** Called as each request finishes (any order). */
  onResult?: (index: number) => void;
}

export interface ScoreCallOptions {
  maxBatchTokens: number;
  /** Called as items are scored, with how many. */
  onBatch?: (items: number) => void;
}

export interface Engine {
  /** What identifies the engine's settings in a resumable run's fingerprint. */
  readonly settings: Record<string, unknown>;
  /** The model's context length (prompt + completion tokens). */
  readonly maxPositions: number;
  /** The longest prompt + response it can score (a server that generates a token after the prompt needs one more). */
  readonly maxScoreLength: number;
  generate(requests: readonly EngineRequest[], opts?: GenerateCallOptions): Promise<GenerationResult[]>;
  score(items: readonly ScoreItem[], opts: ScoreCallOptions): Promise<ScoreResult[]>;
}

/** One unit of model work a synthesis stage asks for. */
export type EngineCall =
  | { op: "generate"; requests: EngineRequest[]; opts: GenerateCallOptions }
  | { op: "score"; items: ScoreItem[]; opts: ScoreCallOptions };

/** A computation that yields engine calls and receives their results (the stages are written as these). */
export type Steps<T> = Generator<EngineCall, T, unknown>;

export function* generateCall(requests: EngineRequest[], opts: GenerateCallOptions): Steps<GenerationResult[]> {
  return (yield { op: "generate", requests, opts }) as GenerationResult[];
}

export function* scoreCall(items: ScoreItem[], opts: ScoreCallOptions): Steps<ScoreResult[]> {
  return (yield { op: "score", items, opts }) as ScoreResult[];
}

/** The in-process engine: `generate` and `scoreItems` on a loaded model, batched as one call each. */
export class LocalEngine implements Engine {
  readonly settings = { engine: "local" };
  constructor(
    readonly model: Model,
    private readonly eosIds: readonly number[],
    private readonly decode: (ids: number[]) => string,
  ) {}

  get maxPositions(): number {
    return this.model.config.maxPositionEmbeddings;
  }

  get maxScoreLength(): number {
    return this.maxPositions;
  }

  run(call: EngineCall): GenerationResult[] | ScoreResult[] {
    if (call.op === "score")
      return scoreItems(this.model, call.items, {
        maxBatchTokens: call.opts.maxBatchTokens,
        onBatch: (n) => call.opts.onBatch?.(n),
      });
    return generate(this.model, call.requests, {
      maxBatch: Math.max(1, call.requests.length),
      eosIds: this.eosIds,
      decode: this.decode,
      onResult: (i) => call.opts.onResult?.(i),
    });
  }

  async generate(requests: readonly EngineRequest[], opts: GenerateCallOptions = {}): Promise<GenerationResult[]> {
    return this.run({ op: "generate", requests: [...requests], opts }) as GenerationResult[];
  }

  async score(items: readonly ScoreItem[], opts: ScoreCallOptions): Promise<ScoreResult[]> {
    return this.run({ op: "score", items: [...items], opts }) as ScoreResult[];
  }
}

/** Runs steps synchronously on the local engine. */
export function runLocal<T>(steps: Steps<T>, engine: LocalEngine): T {
  let r = steps.next();
  while (!r.done) r = steps.next(engine.run(r.value));
  return r.value;
}

/** Runs steps on any engine, awaiting each call. */
export async function runOn<T>(steps: Steps<T>, engine: Engine): Promise<T> {
  let r = steps.next();
  while (!r.done) {
    const call = r.value;
    const result =
      call.op === "score" ? await engine.score(call.items, call.opts) : await engine.generate(call.requests, call.opts);
    r = steps.next(result);
  }
  return r.value;
}
