// A synthesis engine on a vLLM-style OpenAI-compatible server (vLLM, `sso serve`). Tokenisation stays ours:
// sampling sends our chat-templated prompt as token ids to /v1/completions with a per-request seed and every
// sampling field pinned (a server fills omitted ones from the model's generation_config.json) plus the tokenizer's
// stop ids; scoring sends many prompt + response id lists per request with vLLM's `prompt_logprobs` and reads back
// the log-prob of each response token, so what is scored is exactly the ids we train on. There is no chat
// fallback: chat completions would apply the server's template, not ours, so a 404 fails with the server's message.
// Not here: HTTP and retries (http.ts), reading numbers and reasons (reading.ts), probing the server (connect.ts),
// SGLang, which has no prompt_logprobs (sglang.ts).
import type { Engine, EngineRequest, GenerateCallOptions, ScoreCallOptions } from "../engine/engine.js";
import type { ScoreItem, ScoreResult } from "../model/score.js";
import type { GenerationResult } from "../sample/generate.js";
import { type Http, pool } from "./http.js";
import { finishOf, logprobOf, resultOf } from "./reading.js";

export interface RemoteEngineOptions {
  http: Http;
  /** The model's name on the server. */
  model: string;
  /** Context length: the smaller of our config.json's and the server's max_model_len. */
  maxPositions: number;
  /** The tokenizer's end-of-turn / end-of-sequence ids: sent as stop_token_ids, stripped from results. */
  stopIds: readonly number[];
  /** Requests in flight at once. */
  concurrency?: number;
  /** Most prompts in one scoring request. */
  scorePrompts?: number;
  /** SGLang: the loaded LoRA adapter each /generate names (lora_path). */
  loraPath?: string;
  /** What identifies the server in a resumable run's fingerprint (e.g. {engine: "openai", base_url, api_model}). */
  settings: Record<string, unknown>;
}

/** Sums a scored item's response log-probs. */
export const scoreResult = (token_logps: number[]): ScoreResult => ({
  logp: token_logps.reduce((a, b) => a + b, 0),
  n_tokens: token_logps.length,
  token_logps,
});

/** Consecutive runs of items, each at most maxTokens tokens (a longer item alone) and maxItems items. */
export function scoreGroups(items: readonly ScoreItem[], maxTokens: number, maxItems: number): ScoreItem[][] {
  const out: ScoreItem[][] = [];
  let group: ScoreItem[] = [],
    tokens = 0;
  for (const it of items) {
    const n = it.promptIds.length + it.responseIds.length;
    if (group.length > 0 && (tokens + n > maxTokens || group.length >= maxItems)) {
      out.push(group);
      group = [];
      tokens = 0;
    }
    group.push(it);
    tokens += n;
  }
  if (group.length > 0) out.push(group);
  return out;
}

/** Scores items a group per request (scoreGroups), requests in flight bounded by the engine's concurrency. */
export async function scoreInGroups(
  items: readonly ScoreItem[],
  opts: ScoreCallOptions,
  engine: Pick<RemoteEngineOptions, "scorePrompts" | "concurrency">,
  scoreGroup: (group: readonly ScoreItem[]) => Promise<ScoreResult[]>,
): Promise<ScoreResult[]> {
  const groups = scoreGroups(items, opts.maxBatchTokens, engine.scorePrompts ?? 32);
  const scored = await pool(groups, engine.concurrency ?? 16, async (group) => {
    const result = await scoreGroup(group);
    opts.onBatch?.(group.length);
    return result;
  });
  return scored.flat();
}

/** Every sampling field our sampler has or a server might default, pinned to what we sample with. */
export function pinnedSampling(r: EngineRequest): Record<string, unknown> {
  const p = r.params;
  return {
    temperature: p.temperature,
    top_p: p.topP,
    top_k: p.topK > 0 ? p.topK : -1,
    min_p: 0,
    repetition_penalty: 1,
    presence_penalty: 0,
    frequency_penalty: 0,
  };
}

interface Choice {
  index?: number;
  text?: string;
  finish_reason?: string | null;
  stop_reason?: string | number | null;
  token_ids?: number[] | null;
  prompt_logprobs?: (Record<string, { logprob: number | null }> | null)[] | null;
}

interface CompletionResponse {
  choices?: Choice[];
  usage?: { completion_tokens?: number };
}

export class OpenAiEngine implements Engine {
  readonly settings: Record<string, unknown>;
  readonly maxPositions: number;
  readonly maxScoreLength: number;

  constructor(
    private readonly opts: RemoteEngineOptions,
    /** The server scores a prompt without generating (echo with max_tokens 0: `sso serve`); vLLM generates one
     * token after it, so a scored pair must leave room for it. */
    private readonly echoScoring = false,
  ) {
    this.maxPositions = opts.maxPositions;
    this.maxScoreLength = echoScoring ? opts.maxPositions : opts.maxPositions - 1;
    this.settings = opts.settings;
  }

  private get url(): string {
    return `${this.opts.http.shown}/v1/completions`;
  }

  async generate(requests: readonly EngineRequest[], opts: GenerateCallOptions = {}): Promise<GenerationResult[]> {
    return pool(requests, this.opts.concurrency ?? 16, async (r, i) => {
      const result = await this.generateOne(r, i);
      opts.onResult?.(i);
      return result;
    });
  }

  private async generateOne(r: EngineRequest, i: number): Promise<GenerationResult> {
    const body = await this.opts.http.post<CompletionResponse>("/v1/completions", {
      model: this.opts.model,
      prompt: r.promptIds,
      max_tokens: r.params.maxNewTokens,
      ...pinnedSampling(r),
      seed: r.seed,
      stop: r.params.stop,
      stop_token_ids: this.opts.stopIds,
      return_token_ids: true,
    });
    const c = body.choices?.[0];
    if (!c || typeof c.text !== "string") throw new Error(`${this.url}: a completion response without choices[0].text`);
    const finish = finishOf(c.finish_reason, c.stop_reason, `${this.url} (request ${i})`);
    return resultOf(c.text, finish, c.token_ids, body.usage?.completion_tokens, this.opts.stopIds);
  }

  score(items: readonly ScoreItem[], opts: ScoreCallOptions): Promise<ScoreResult[]> {
    return scoreInGroups(items, opts, this.opts, (group) => this.scoreGroup(group));
  }

  private async scoreGroup(items: readonly ScoreItem[]): Promise<ScoreResult[]> {
    const ids = items.map((it) => [...it.promptIds, ...it.responseIds]);
    const body = await this.opts.http.post<CompletionResponse>("/v1/completions", {
      model: this.opts.model,
      prompt: ids,
      ...(this.echoScoring ? { echo: true, max_tokens: 0 } : { max_tokens: 1 }),
      temperature: 0,
      // 1, not 0: one vLLM V1 snapshot reads 0 as "off"; the prompt's own token always comes with its rank.
      prompt_logprobs: 1,
    });
    const choices = [...(body.choices ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return items.map((it, k) => {
      const lps = choices[k]?.prompt_logprobs;
      if (choices.length !== items.length || !Array.isArray(lps) || lps.length !== ids[k].length)
        throw new Error(
          `${this.url} cannot score: it returned no per-token prompt_logprobs for a token-id prompt (scoring needs vLLM's prompt_logprobs on /v1/completions, or SGLang's /generate with --engine sglang; llama.cpp and Ollama only give log-probs of generated tokens)`,
        );
      return scoreResult(
        it.responseIds.map((id, j) => {
          const t = it.promptIds.length + j,
            entry = lps[t]?.[String(id)];
          if (!entry)
            throw new Error(`${this.url} cannot score: prompt_logprobs[${t}] lacks the prompt's own token ${id}`);
          return logprobOf(entry.logprob, `${this.url}: prompt_logprobs[${t}]`);
        }),
      );
    });
  }
}
