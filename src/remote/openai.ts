// A synthesis engine on any OpenAI-compatible server (vLLM, SGLang, `sso serve`). Tokenisation stays ours:
// sampling sends our chat-templated prompt as token ids to /v1/completions (with a per-request seed), falling back
// to /v1/chat/completions with the messages when the server has no completions route; scoring sends prompt +
// response ids with vLLM's `prompt_logprobs` and reads back the log-prob of each response token, so what is
// scored is exactly the ids we train on. Requests run with bounded concurrency, a timeout each, and bounded
// retries with exponential backoff on 429, 5xx and network errors. Not here: the stages that call it.
import type { Engine, EngineRequest, GenerateCallOptions, ScoreCallOptions } from "../engine/engine.js";
import type { ScoreItem, ScoreResult } from "../model/score.js";
import type { FinishReason, GenerationResult } from "../sample/generate.js";

export interface OpenAiEngineOptions {
  /** E.g. http://127.0.0.1:8000/v1 (a URL without /v1 gets it appended). */
  baseUrl: string;
  /** The model's name on the server. */
  model: string;
  apiKey?: string;
  /** Context length of the model (from our copy of its config.json). */
  maxPositions: number;
  /** End-of-sequence ids: a completion that ends on one has it stripped from its tokens. */
  eosIds: readonly number[];
  /** Requests in flight at once. */
  concurrency?: number;
  timeoutMs?: number;
  /** Retries after the first attempt, on 429, 5xx and network errors. */
  retries?: number;
  /** First backoff; doubled per retry. */
  backoffMs?: number;
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs fn over items with at most `limit` in flight; results in item order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface CompletionChoice {
  text?: string;
  message?: { content?: string | null };
  finish_reason?: string | null;
  stop_reason?: string | number | null;
  token_ids?: number[] | null;
  prompt_logprobs?: (Record<string, { logprob: number }> | null)[] | null;
}

interface CompletionResponse {
  choices?: CompletionChoice[];
  usage?: { completion_tokens?: number };
}

export class OpenAiEngine implements Engine {
  readonly settings: Record<string, unknown>;
  readonly maxPositions: number;
  private readonly base: string;
  private mode: "completions" | "chat" = "completions";

  constructor(private readonly opts: OpenAiEngineOptions) {
    let base = opts.baseUrl.replace(/\/+$/, "");
    if (!/\/v1$/.test(base)) base += "/v1";
    this.base = base;
    this.maxPositions = opts.maxPositions;
    this.settings = { engine: "openai", base_url: base, api_model: opts.model };
  }

  async generate(requests: readonly EngineRequest[], opts: GenerateCallOptions = {}): Promise<GenerationResult[]> {
    return pool(requests, this.opts.concurrency ?? 16, async (r, i) => {
      const result = await this.generateOne(r);
      opts.onResult?.(i);
      return result;
    });
  }

  async score(items: readonly ScoreItem[], opts: ScoreCallOptions): Promise<ScoreResult[]> {
    return pool(items, this.opts.concurrency ?? 16, async (it) => {
      const result = await this.scoreOne(it);
      opts.onBatch?.(1);
      return result;
    });
  }

  private sampling(r: EngineRequest): Record<string, unknown> {
    const p = r.params;
    return {
      model: this.opts.model,
      max_tokens: p.maxNewTokens,
      temperature: p.temperature,
      top_p: p.topP,
      seed: r.seed,
      ...(p.topK > 0 ? { top_k: p.topK } : {}),
      ...(p.stop.length > 0 ? { stop: p.stop } : {}),
      return_token_ids: true,
    };
  }

  private async generateOne(r: EngineRequest): Promise<GenerationResult> {
    if (this.mode === "completions") {
      try {
        return this.toResult(await this.post("/completions", { ...this.sampling(r), prompt: r.promptIds }), "text");
      } catch (e) {
        if (!(e instanceof HttpStatusError && e.status === 404) || !r.messages) throw e;
        this.mode = "chat"; // no /v1/completions: the server's own chat template applies from here on
      }
    }
    if (!r.messages)
      throw new Error(
        `${this.base}: the server has no /v1/completions and this request has no messages for /v1/chat/completions`,
      );
    return this.toResult(
      await this.post("/chat/completions", { ...this.sampling(r), messages: r.messages }),
      "message",
    );
  }

  private toResult(body: CompletionResponse, field: "text" | "message"): GenerationResult {
    const c = body.choices?.[0];
    const text = field === "text" ? c?.text : c?.message?.content;
    if (!c || typeof text !== "string")
      throw new Error(
        `${this.base}: a completion response without choices[0].${field === "text" ? "text" : "message.content"}`,
      );
    const finishReason: FinishReason =
      c.finish_reason === "length" ? "length" : typeof c.stop_reason === "string" ? "stop" : "eos";
    let tokens: number[];
    if (Array.isArray(c.token_ids)) {
      tokens = c.token_ids;
      if (finishReason === "eos" && tokens.length > 0 && this.opts.eosIds.includes(tokens[tokens.length - 1]))
        tokens = tokens.slice(0, -1);
    } else {
      // The server does not return ids: only the count is known (what synthesis uses of them).
      const n = (body.usage?.completion_tokens ?? 0) - (finishReason === "eos" ? 1 : 0);
      tokens = new Array<number>(Math.max(0, n)).fill(-1);
    }
    return { tokens, text, finishReason };
  }

  private async scoreOne(it: ScoreItem): Promise<ScoreResult> {
    const ids = [...it.promptIds, ...it.responseIds];
    const url = `${this.base}/completions`;
    const body = await this.post("/completions", {
      model: this.opts.model,
      prompt: ids,
      max_tokens: 1,
      temperature: 0,
      prompt_logprobs: 0,
    });
    const lps = body.choices?.[0]?.prompt_logprobs;
    if (!Array.isArray(lps) || lps.length !== ids.length) {
      throw new Error(
        `${url} cannot score: it returned no per-token prompt_logprobs for a token-id prompt (scoring needs vLLM's prompt_logprobs on /v1/completions; llama.cpp and Ollama only give log-probs of generated tokens)`,
      );
    }
    const token_logps = it.responseIds.map((id, j) => {
      const t = it.promptIds.length + j,
        entry = lps[t]?.[String(id)];
      if (!entry || typeof entry.logprob !== "number")
        throw new Error(`${url} cannot score: prompt_logprobs[${t}] lacks the prompt's own token ${id}`);
      return entry.logprob;
    });
    return { logp: token_logps.reduce((a, b) => a + b, 0), n_tokens: token_logps.length, token_logps };
  }

  /** POST with a timeout, retrying 429 / 5xx / network errors with exponential backoff. */
  private async post(path: string, body: unknown): Promise<CompletionResponse> {
    const url = `${this.base}${path}`,
      retries = this.opts.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      let error: Error;
      try {
        const res = await fetch(url, {
          method: "POST",
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 600_000),
          headers: {
            "content-type": "application/json",
            ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
          },
        });
        const text = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(text) as CompletionResponse;
          } catch {
            throw new Error(`POST ${url}: the answer is not JSON: ${text.slice(0, 200)}`);
          }
        }
        let message = text.slice(0, 300);
        try {
          message = (JSON.parse(text) as { error?: { message?: string }; message?: string }).error?.message ?? message;
        } catch {
          /* keep the raw text */
        }
        error = new HttpStatusError(res.status, `POST ${url}: HTTP ${res.status}: ${message}`);
        if (res.status !== 429 && res.status < 500) throw error;
      } catch (e) {
        if (e instanceof HttpStatusError && e.status !== 429 && e.status < 500) throw e;
        if (!(e instanceof HttpStatusError) && (e as Error).message.startsWith("POST ")) throw e;
        error =
          e instanceof HttpStatusError
            ? e
            : new Error(
                `POST ${url}: ${(e as Error).name === "TimeoutError" ? `no answer within ${(this.opts.timeoutMs ?? 600_000) / 1000} s` : (e as Error).message}`,
              );
      }
      if (attempt >= retries) throw new Error(`${error.message} (after ${retries + 1} attempts)`);
      await new Promise((r) => setTimeout(r, (this.opts.backoffMs ?? 500) * 2 ** attempt));
    }
  }
}
