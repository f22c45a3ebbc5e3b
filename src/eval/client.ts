// The judge on an OpenAI-compatible server: one chat completion per call (temperature 0) through the remote engines'
// HTTP client (src/remote/http.ts: timeout, bounded retries with backoff on 429, 5xx and network errors; other
// errors fail at once with URL and status). The API key comes from an environment variable, never from a flag,
// and is never printed; credentials in the URL (user:pass@) are sent as Basic authorization instead, and every URL
// shown (messages, the judge's id in reports and cache keys) has its secrets redacted. Concurrency is the caller's
// (`pool` in src/remote/http.ts). Not here: prompts (prompts.ts), caching (judge.ts).
import { Http } from "../remote/http.js";
import type { ChatMessage } from "../tokenizer/tokenizer.js";
import { redactUrl, splitCredentials } from "../util/redact.js";

/** Something that answers a chat: a model behind an HTTP API, or a fake in tests. */
export interface ChatJudge {
  /** What identifies the judge in cache keys: URL and model name. */
  readonly id: string;
  complete(messages: readonly ChatMessage[]): Promise<string>;
}

export interface ChatClientOptions {
  /** E.g. https://api.openai.com/v1 (a URL without /v1 gets it appended). */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Token limit of a reply (default 512). */
  maxTokens?: number;
  timeoutMs?: number;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff (default 500 ms), doubled per retry. */
  backoffMs?: number;
}

const LOOPBACK = /^https?:\/\/(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?(?:\/|$)/;

/**
 * The API key of a judge at `url` from the environment variable `variable`: required unless the judge is on this
 * machine (127.x, localhost, ::1) or its URL holds credentials (user:pass@, sent as Basic authorization; then
 * OPENAI_API_KEY is not sent), and the variable was not named explicitly. A missing key is one line naming it.
 */
export function judgeApiKey(url: string, variable: string | undefined, env = process.env): string | undefined {
  const name = variable ?? "OPENAI_API_KEY",
    key = env[name];
  if (variable === undefined && splitCredentials(url).user !== undefined) return undefined;
  if (key !== undefined && key !== "") return key;
  if (variable === undefined && LOOPBACK.test(url)) return undefined;
  throw new Error(
    `--judge-url ${redactUrl(url)}: the judge's API key is not set: export ${name}=… (or name another variable with --judge-key-env)`,
  );
}

export function openAiChat(opts: ChatClientOptions): ChatJudge {
  let base = opts.baseUrl.replace(/\/+$/, "");
  if (!/\/v1$/.test(base)) base += "/v1";
  const http = new Http(base, {
    apiKey: opts.apiKey,
    timeoutMs: opts.timeoutMs ?? 300_000,
    retries: opts.retries,
    backoffMs: opts.backoffMs,
  });
  type ChatResponse = { choices?: { message?: { content?: unknown } }[] };
  return {
    id: `${http.shown} ${opts.model}`,
    async complete(messages) {
      const body = { model: opts.model, messages, temperature: 0, max_tokens: opts.maxTokens ?? 512, seed: 0 };
      const content = (await http.post<ChatResponse>("/chat/completions", body)).choices?.[0]?.message?.content;
      if (typeof content !== "string") {
        throw new Error(`POST ${http.shown}/chat/completions: a chat response without choices[0].message.content`);
      }
      return content;
    },
  };
}
