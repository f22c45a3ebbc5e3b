// HTTP plumbing shared by every route: the HttpError a handler throws, JSON answers, the mapping of any failure to
// OpenAI's JSON error shape ({error: {message, type, param, code}}) or, mid-stream, to an SSE error event, reading
// a JSON body under a size limit (413), the object-body + zod check (400), and the API-key check (401, constant time).
// Deliberately not here: which routes exist (router.ts) and what any endpoint means.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import { bearerMatches } from "../util/bearer.js";
import { describeIssue } from "../util/files.js";
import { QueueFullError, RequestTooLargeError, ShuttingDownError } from "./scheduler.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    /** Extra response headers (405's Allow). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const bad = (message: string) => new HttpError(400, message);

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Answers any failure: 400/401/404/405/413 as thrown, 400 for a request the queue can never hold, 429 queue full, 503 shutting down, else 500. */
export function sendError(res: ServerResponse, e: unknown): void {
  const err =
    e instanceof HttpError
      ? e
      : e instanceof RequestTooLargeError
        ? bad(e.message)
        : e instanceof QueueFullError
          ? new HttpError(429, e.message, "rate_limit_error")
          : e instanceof ShuttingDownError
            ? new HttpError(503, e.message, "server_error")
            : new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, "server_error");
  if (res.headersSent) {
    // Mid-stream: report in the stream's own format, then end it — vLLM's shape (its stream generators yield
    // `data: {"error": {message, type, param, code}}` and then `data: [DONE]` on any failure).
    if (!res.writableEnded) res.end(`data: ${JSON.stringify({ error: errorBody(err) })}\n\ndata: [DONE]\n\n`);
    return;
  }
  sendJson(res, err.status, { error: errorBody(err) }, err.headers);
}

const errorBody = (err: HttpError) => ({ message: err.message, type: err.type, param: null, code: err.status });

/** The body parsed as JSON; 413 past `limit` bytes (the rest is drained), 400 when it is not JSON. */
export function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
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

/** A JSON object body checked against a request schema; 400 naming the first problem. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the body must be a JSON object");
  const r = schema.safeParse(body);
  if (!r.success) throw bad(describeIssue(r.error.issues[0]));
  return r.data;
}

/** 401 unless the request carries `Authorization: Bearer KEY` (no key configured: everyone may call; the
 * constant-time comparison is src/util/bearer.ts, shared with `sso ui`). */
export function requireApiKey(req: IncomingMessage, apiKey: string | undefined): void {
  if (!bearerMatches(req.headers.authorization, apiKey)) {
    throw new HttpError(401, "missing or wrong API key (send Authorization: Bearer KEY)", "authentication_error");
  }
}
