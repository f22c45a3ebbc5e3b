// `sso serve`'s HTTP server: an OpenAI-compatible API over node:http — GET /v1/models, POST /v1/completions and
// POST /v1/chat/completions — feeding one shared Scheduler. This file starts it (listen, the scheduler, the
// router) and stops it (no new requests, queued ones fail with 503, running ones finish within the grace period or
// end with an error: an SSE error event + [DONE] mid-stream, a 503 otherwise). Every failure is a JSON
// error with 400, 401, 404, 405, 413, 429 (queue full now) or 503; nothing a client sends can crash the process.
// Hardening: a request's headers must arrive within 10 s and the whole request within 30 s (else 408; the answer's
// own time is not limited, so a long stream runs on), and at most 256 connections are open at once (Node closes
// further ones at once) — all options.
// Deliberately not here: routing (router.ts), HTTP plumbing (http.ts), the endpoints (completions.ts, chat.ts,
// sse.ts), batching (scheduler.ts), request schemas (protocol.ts), the command line (src/cli/serve.ts).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type ServeOptions as EndpointOptions, makeContext } from "./context.js";
import { sendError } from "./http.js";
import { Router } from "./router.js";
import { Scheduler } from "./scheduler.js";

export interface ServeOptions extends EndpointOptions {
  /** Time to receive a request's headers (default 10 s) and the whole request (default 30 s): 408 after either.
   * Node's requestTimeout covers receiving the request only, never the answer (a long generation is not cut). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Open connections at once (default 256): Node's server.maxConnections closes further ones when they arrive. */
  maxConnections?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  /** The model loop behind the API (its queued/active counts show what runs). */
  scheduler: Scheduler;
  /**
   * Stops accepting requests, fails queued ones with 503, lets running ones finish — for at most `graceMs`, after
   * which each still running ends with an error (a stream: an error event and [DONE]; otherwise a 503) — then closes.
   */
  close(graceMs?: number): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  const { model, tok } = opts;
  const scheduler = new Scheduler(model, {
    maxBatch: opts.maxBatch ?? 8,
    maxQueue: opts.maxQueue ?? 64,
    eosIds: tok.stopIds,
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
  });
  const router = new Router(makeContext(opts, scheduler));
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(opts.headersTimeoutMs ?? 10_000, requestTimeout);
  const server = createServer(
    // Node checks the two timeouts every connectionsCheckingInterval (default 30 s): a tenth of the shorter one.
    { requestTimeout, headersTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1_000, headersTimeout / 10)) },
    (req, res) => {
      router.handle(req, res).catch((e: unknown) => sendError(res, e));
    },
  );
  server.keepAliveTimeout = 5_000;
  server.maxConnections = opts.maxConnections ?? 256;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8000, opts.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    port,
    server,
    scheduler,
    close: (graceMs = Infinity) =>
      (closing ??= (async () => {
        router.closing = true;
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const grace = Number.isFinite(graceMs)
          ? setTimeout(
              () =>
                scheduler.abortRunning(
                  `the server is shutting down: the generation did not finish within the ${graceMs / 1000} s grace period`,
                ),
              graceMs,
            )
          : undefined;
        await scheduler.close();
        clearTimeout(grace);
        // The aborted requests' answers (error events, 503s) are written in the turns after the scheduler stops.
        await new Promise<void>((r) => setImmediate(r));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), 2_000);
        await closed;
        clearTimeout(timer);
      })()),
  };
}
