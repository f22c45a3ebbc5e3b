// Which request goes where: 503 while shutting down, GET /health (no key needed), the API-key check, GET
// /v1/models, and the two POST endpoints, each given the parsed body and one AbortSignal for the whole request —
// aborted when the client goes away before the answer is complete, or when the handler fails, so that no part of
// a failed request keeps running. A known path with another method is 405 with an Allow header (ROUTES); an
// unknown path is 404. Deliberately not here: what the endpoints do (completions.ts, chat.ts), starting and
// stopping the server (server.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { adapterCards, contextFor, handleAdmin } from "./admin.js";
import { chat } from "./chat.js";
import { completions } from "./completions.js";
import { now, type ServeContext } from "./context.js";
import { HttpError, parseBody, readBody, requireApiKey, sendJson } from "./http.js";
import { ChatRequest, CompletionRequest } from "./protocol.js";

/** The methods each known path answers; any other method on it is 405 with `Allow`. */
export const ROUTES: Record<string, readonly string[]> = {
  "/health": ["GET"],
  "/v1/models": ["GET"],
  "/v1/completions": ["POST"],
  "/v1/chat/completions": ["POST"],
};

/** 405 with an Allow header when `path` is a known route and `method` is not one it answers. */
export function checkMethod(method: string | undefined, path: string): void {
  const allowed = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
  if (allowed && !allowed.includes(method ?? "")) {
    throw new HttpError(405, `${path} answers ${allowed.join(", ")}, not ${method}`, "invalid_request_error", {
      allow: allowed.join(", "),
    });
  }
}

export class Router {
  /** Set by close(): every new request gets 503. */
  closing = false;

  constructor(private readonly ctx: ServeContext) {}

  /** Handles one request; throws what http.ts's sendError turns into the answer. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { opts, scheduler } = this.ctx;
    const path = (req.url ?? "/").split("?")[0];
    if (this.closing) throw new HttpError(503, "the server is shutting down", "server_error");
    if (path === "/health") {
      checkMethod(req.method, path);
      return sendJson(res, 200, { status: "ok" });
    }
    requireApiKey(req, opts.apiKey);
    checkMethod(req.method, path);
    const route = `${req.method} ${path}`;
    if (route === "GET /v1/models")
      return sendJson(res, 200, {
        object: "list",
        data: [
          {
            id: opts.modelName,
            object: "model",
            created: now(),
            owned_by: "sso",
            max_model_len: scheduler.maxPositions,
          },
          ...adapterCards(this.ctx),
        ],
      });
    if (await handleAdmin(this.ctx, route, req, res)) return;
    if (route === "POST /v1/completions" || route === "POST /v1/chat/completions") {
      const body = await readBody(req, opts.maxBodyBytes ?? 4 << 20);
      const abort = new AbortController();
      res.on("close", () => res.writableFinished || abort.abort());
      try {
        const model = (body as { model?: string } | null)?.model;
        return await (route === "POST /v1/completions"
          ? completions(contextFor(this.ctx, model), parseBody(CompletionRequest, body), res, abort.signal)
          : chat(contextFor(this.ctx, model), parseBody(ChatRequest, body), res, abort.signal));
      } catch (e) {
        abort.abort();
        throw e;
      }
    }
    throw new HttpError(
      404,
      `no route ${route} (this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`,
      "not_found_error",
    );
  }
}
