// `sso serve`'s HTTP side: an OpenAI-compatible API over node:http — GET /v1/models, POST /v1/completions (text or
// token-id prompts, echo, logprobs, vLLM's prompt_logprobs and return_token_ids, streaming) and POST
// /v1/chat/completions (our chat template, streaming, logprobs) — feeding the shared Scheduler. Every failure
// is a JSON error ({error: {message, type, code}}) with 400 (bad request), 401, 404, 413, 429 (queue full) or
// 503 (shutting down); nothing a client sends can crash the process. Not here: batching (scheduler.ts), the
// request schemas (protocol.ts), the command line (src/cli/serve.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import type { Model } from "../model/model.js";
import type { GenerationResult } from "../sample/generate.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import {
  ChatRequest, chatLogprobs, CompletionRequest, completionLogprobs, describeIssue, samplingOf, seedOf, vllmPromptLogprobs, type CompletionRequest as Completion,
} from "./protocol.js";
import { QueueFullError, Scheduler, ShuttingDownError, type JobOutput, type TokenLogprob } from "./scheduler.js";

export interface ServeOptions {
  model: Model;
  tok: Tokenizer;
  /** The id clients name (and /v1/models lists). */
  modelName: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  apiKey?: string;
  maxQueue?: number;
  maxBatch?: number;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  /** Stops accepting requests, fails queued ones with 503, lets running ones finish, then closes. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly type = "invalid_request_error") {
    super(message);
  }
}

const bad = (message: string) => new HttpError(400, message);

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  const { model, tok } = opts;
  const scheduler = new Scheduler(model, {
    maxBatch: opts.maxBatch ?? 8, maxQueue: opts.maxQueue ?? 64, eosIds: tok.stopIds, decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
  });
  const api = new Api(opts, scheduler);
  const server = createServer((req, res) => {
    api.handle(req, res).catch((e: unknown) => sendError(res, e));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8000, opts.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`, port, server,
    close: () => (closing ??= (async () => {
      api.closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await scheduler.close();
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), 2_000);
      await closed;
      clearTimeout(timer);
    })()),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = e instanceof HttpError ? e
    : e instanceof QueueFullError ? new HttpError(429, e.message, "rate_limit_error")
    : e instanceof ShuttingDownError ? new HttpError(503, e.message, "server_error")
    : new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, "server_error");
  if (res.headersSent) {
    // Mid-stream: report in the stream's own format, then end it.
    if (!res.writableEnded) res.end(`data: ${JSON.stringify({ error: { message: err.message, type: err.type, code: err.status } })}\n\ndata: [DONE]\n\n`);
    return;
  }
  sendJson(res, err.status, { error: { message: err.message, type: err.type, param: null, code: err.status } });
}

function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `request body exceeds ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (size > limit) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (e) {
        reject(bad(`invalid JSON body: ${(e as Error).message}`));
      }
    });
  });
}

const parse = <T>(schema: z.ZodType<T>, body: unknown): T => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the body must be a JSON object");
  const r = schema.safeParse(body);
  if (!r.success) throw bad(describeIssue(r.error));
  return r.data;
};

const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;

/** OpenAI's finish_reason and vLLM's stop_reason (the stop string that ended it; null for end-of-sequence). */
function finishOf(r: GenerationResult, stops: readonly string[], decode: (ids: number[]) => string): { finish_reason: "stop" | "length"; stop_reason: string | null } {
  if (r.finishReason === "length") return { finish_reason: "length", stop_reason: null };
  if (r.finishReason === "eos") return { finish_reason: "stop", stop_reason: null };
  const text = decode(r.tokens);
  const found = stops.filter((s) => s && text.indexOf(s) === r.text.length);
  return { finish_reason: "stop", stop_reason: found[0] ?? null };
}

/** Text deltas for streaming: holds back a possible partial stop string and an incomplete UTF-8 character. */
class DeltaText {
  private sent = 0;
  private readonly hold: number;
  constructor(stops: readonly string[], private readonly decode: (ids: number[]) => string) {
    this.hold = Math.max(0, ...stops.map((s) => s.length - 1));
  }
  next(tokens: number[]): string {
    let text = this.decode(tokens);
    while (text.endsWith("\uFFFD")) text = text.slice(0, -1);
    const upTo = Math.max(this.sent, text.length - this.hold);
    const delta = text.slice(this.sent, upTo);
    this.sent = upTo;
    return delta;
  }
  rest(final: string): string {
    const delta = final.slice(this.sent);
    this.sent = final.length;
    return delta;
  }
}

interface Generated {
  out: JobOutput;
  /** Every sampled id, the end-of-sequence one included (vLLM's token_ids). */
  ids: number[];
}

class Api {
  closing = false;
  private readonly decode: (ids: number[]) => string;
  private readonly piece: (id: number) => string;

  constructor(private readonly opts: ServeOptions, private readonly scheduler: Scheduler) {
    this.decode = (ids) => opts.tok.decode(ids, { skipSpecialTokens: true });
    this.piece = (id) => opts.tok.decode([id], { skipSpecialTokens: false });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (this.closing) throw new HttpError(503, "the server is shutting down", "server_error");
    if (path === "/health") return sendJson(res, 200, { status: "ok" });
    if (this.opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.opts.apiKey}`) {
      throw new HttpError(401, "missing or wrong API key (send Authorization: Bearer KEY)", "authentication_error");
    }
    const route = `${req.method} ${path}`;
    if (route === "GET /v1/models") return sendJson(res, 200, { object: "list", data: [{ id: this.opts.modelName, object: "model", created: now(), owned_by: "sso", max_model_len: this.scheduler.maxPositions }] });
    if (route === "POST /v1/completions" || route === "POST /v1/chat/completions") {
      const body = await readBody(req, this.opts.maxBodyBytes ?? 4 << 20);
      const abort = new AbortController();
      res.on("close", () => res.writableFinished || abort.abort());
      return route === "POST /v1/completions" ? this.completions(parse(CompletionRequest, body), res, abort.signal) : this.chat(parse(ChatRequest, body), res, abort.signal);
    }
    throw new HttpError(404, `no route ${route} (this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`, "not_found_error");
  }

  private checkModel(name: string | undefined): void {
    if (name !== undefined && name !== this.opts.modelName) throw new HttpError(404, `the model "${name}" does not exist (this server has "${this.opts.modelName}")`, "not_found_error");
  }

  private checkLength(promptLen: number, maxTokens: number): void {
    if (promptLen === 0) throw bad("the prompt is empty");
    const n = this.scheduler.maxPositions;
    if (promptLen + maxTokens > n) throw bad(`this model's maximum context length is ${n} tokens, but ${promptLen + maxTokens} were requested (${promptLen} in the prompt, ${maxTokens} for the completion)`);
  }

  /** Runs one generation job, streaming each new token's ids to onIds. */
  private async run(promptIds: number[], r: { seed?: number | null }, params: ReturnType<typeof samplingOf>, logprobs: number | null, signal: AbortSignal, onIds?: (ids: number[], lp: TokenLogprob | null) => void): Promise<Generated> {
    const ids: number[] = [];
    const eos = new Set(this.opts.tok.stopIds);
    const text: number[] = [];
    const out = await this.scheduler.generate({
      request: { promptIds, params, seed: seedOf(r.seed) }, logprobs,
      onToken: (t) => {
        ids.push(t.token);
        if (!eos.has(t.token)) text.push(t.token);
        onIds?.(text, "logprob" in t ? t : null);
      },
    }, signal);
    return { out, ids };
  }

  private async completions(r: Completion, res: ServerResponse, signal: AbortSignal): Promise<void> {
    this.checkModel(r.model);
    const prompts: { ids: number[]; text: string }[] = typeof r.prompt === "string" ? [this.textPrompt(r.prompt)]
      : typeof r.prompt[0] === "number" ? [this.idPrompt(r.prompt as number[])]
      : (r.prompt as (string | number[])[]).map((p) => (typeof p === "string" ? this.textPrompt(p) : this.idPrompt(p)));
    const maxTokens = r.max_tokens ?? 16;
    if (maxTokens === 0 && !r.echo && (r.prompt_logprobs ?? null) === null) throw bad("max_tokens is 0: only allowed with echo or prompt_logprobs");
    prompts.forEach((p) => this.checkLength(p.ids.length, maxTokens));
    if (r.stream && prompts.length > 1) throw bad("stream is supported for one prompt at a time");
    const params = samplingOf(r, maxTokens), id = newId("cmpl"), created = now();
    const head = { id, object: "text_completion", created, model: this.opts.modelName };
    if (r.stream) return this.stream(res, prompts[0].ids, r, params, r.logprobs ?? null, signal, (delta, lp, finish) => ({
      ...head, choices: [{ index: 0, text: delta, logprobs: lp ? completionLogprobs([lp], [lp.token], this.piece, 0) : null, finish_reason: finish?.finish_reason ?? null, stop_reason: finish?.stop_reason ?? null }],
    }), r.echo ? prompts[0].text : "");

    const choices = await Promise.all(prompts.map(async (p, index) => {
      const [gen, promptLps] = await Promise.all([
        maxTokens > 0 ? this.run(p.ids, r, params, r.logprobs ?? null, signal) : null,
        (r.prompt_logprobs ?? null) !== null || (r.echo && (r.logprobs ?? null) !== null) ? this.promptLogprobs(p.ids, Math.max(r.prompt_logprobs ?? 0, r.logprobs ?? 0)) : null,
      ]);
      const result = gen?.out.result ?? { tokens: [], text: "", finishReason: "length" as const };
      const genLps = gen?.out.logprobs ?? [];
      let logprobs = null;
      if ((r.logprobs ?? null) !== null) {
        const entries = r.echo ? [null, ...promptLps!.map((lp) => ({ ...lp, top: lp.top.slice(0, r.logprobs!) })), ...genLps] : genLps;
        const ids = r.echo ? [...p.ids, ...(gen?.ids ?? [])] : gen?.ids ?? [];
        logprobs = completionLogprobs(entries, ids, this.piece, 0);
      }
      return {
        index, text: (r.echo ? p.text : "") + result.text, logprobs, ...finishOf(result, params.stop, this.decode),
        ...(r.prompt_logprobs !== undefined && r.prompt_logprobs !== null ? { prompt_logprobs: vllmPromptLogprobs(promptLps!.map((lp) => ({ ...lp, top: lp.top.slice(0, r.prompt_logprobs!) })), this.piece) } : {}),
        ...(r.return_token_ids ? { prompt_token_ids: p.ids, token_ids: gen?.ids ?? [] } : {}),
        completion_tokens: gen?.ids.length ?? 0,
      };
    }));
    const prompt_tokens = prompts.reduce((n, p) => n + p.ids.length, 0), completion_tokens = choices.reduce((n, c) => n + c.completion_tokens, 0);
    sendJson(res, 200, { ...head, choices: choices.map(({ completion_tokens: _, ...c }) => c), usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens } });
  }

  private async chat(r: ChatRequest, res: ServerResponse, signal: AbortSignal): Promise<void> {
    this.checkModel(r.model);
    const messages = r.messages.map((m) => ({
      role: m.role === "developer" ? "system" : m.role,
      content: m.content === null ? "" : typeof m.content === "string" ? m.content : m.content.map((c) => c.text).join(""),
    }));
    let promptIds: number[];
    try {
      promptIds = this.opts.tok.encode(this.opts.tok.applyChatTemplate(messages, { addGenerationPrompt: true }));
    } catch (e) {
      throw bad(`messages: the chat template failed: ${(e as Error).message}`);
    }
    const maxTokens = r.max_completion_tokens ?? r.max_tokens ?? this.scheduler.maxPositions - promptIds.length;
    if (maxTokens < 1) throw bad(promptIds.length >= this.scheduler.maxPositions ? `the prompt (${promptIds.length} tokens) fills the model's context of ${this.scheduler.maxPositions}` : "max_tokens must be at least 1");
    this.checkLength(promptIds.length, maxTokens);
    const top = r.logprobs ? r.top_logprobs ?? 0 : null;
    const params = samplingOf(r, maxTokens), id = newId("chatcmpl"), created = now();
    const head = { id, object: "chat.completion", created, model: this.opts.modelName };
    if (r.stream) {
      let first = true;
      return this.stream(res, promptIds, r, params, top, signal, (delta, lp, finish) => {
        const d = first ? { role: "assistant", content: delta } : finish && delta === "" ? {} : { content: delta };
        first = false;
        return { ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta: d, logprobs: lp ? { content: chatLogprobs([lp], this.piece) } : null, finish_reason: finish?.finish_reason ?? null }] };
      });
    }
    const gen = await this.run(promptIds, r, params, top, signal);
    const completion_tokens = gen.ids.length;
    sendJson(res, 200, {
      ...head,
      choices: [{
        index: 0, message: { role: "assistant", content: gen.out.result.text }, logprobs: gen.out.logprobs ? { content: chatLogprobs(gen.out.logprobs, this.piece) } : null,
        ...finishOf(gen.out.result, params.stop, this.decode), ...(r.return_token_ids ? { prompt_token_ids: promptIds, token_ids: gen.ids } : {}),
      }],
      usage: { prompt_tokens: promptIds.length, completion_tokens, total_tokens: promptIds.length + completion_tokens },
    });
  }

  /** Server-sent events: one chunk per new piece of text, a last chunk with the finish reason, then [DONE]. */
  private async stream(
    res: ServerResponse, promptIds: number[], r: { seed?: number | null; stream_options?: { include_usage?: boolean | null } | null }, params: ReturnType<typeof samplingOf>, logprobs: number | null, signal: AbortSignal,
    chunk: (delta: string, lp: TokenLogprob | null, finish?: ReturnType<typeof finishOf>) => unknown, prefix = "",
  ): Promise<void> {
    const send = (obj: unknown) => res.writableEnded || res.write(`data: ${JSON.stringify(obj)}\n\n`);
    const delta = new DeltaText(params.stop, this.decode);
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      if (prefix) send(chunk(prefix, null));
    };
    const gen = await this.run(promptIds, r, params, logprobs, signal, (ids, lp) => {
      start();
      const d = delta.next(ids);
      if (d !== "" || lp) send(chunk(d, lp));
    });
    start();
    send(chunk(delta.rest(gen.out.result.text), null, finishOf(gen.out.result, params.stop, this.decode)));
    if (r.stream_options?.include_usage) {
      send({ id: "usage", object: "usage", choices: [], usage: { prompt_tokens: promptIds.length, completion_tokens: gen.ids.length, total_tokens: promptIds.length + gen.ids.length } });
    }
    res.end("data: [DONE]\n\n");
  }

  private textPrompt(text: string): { ids: number[]; text: string } {
    return { ids: this.opts.tok.encode(text), text };
  }

  private idPrompt(ids: number[]): { ids: number[]; text: string } {
    const V = this.opts.model.config.vocabSize;
    const badId = ids.find((t) => t >= V);
    if (badId !== undefined) throw bad(`prompt: token id ${badId} is outside the vocabulary (size ${V})`);
    return { ids, text: this.opts.tok.decode(ids, { skipSpecialTokens: false }) };
  }

  private async promptLogprobs(ids: number[], top: number): Promise<TokenLogprob[]> {
    return ids.length < 2 ? [] : this.scheduler.promptLogprobs(ids, top);
  }
}
