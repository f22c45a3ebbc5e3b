// `sso ui`'s HTTP server: the dashboard's page and script (bundled at build time into dist/src/ui/public by
// tools/build-ui.mjs; nothing from a CDN) and a read-only JSON API over the run files under one root:
//   GET /api/runs                      every run and its status (runs.ts)
//   GET /api/json?path=P               a JSON file (summaries, reports) under a size cap
//   GET /api/lines?path=P&offset=N     a page of JSONL lines from a byte offset (metrics)
//   GET /api/records?path=P&offset=N&q=&feature=&wmin=&wmax=&lenmin=&lenmax=   filtered records (records.ts)
//   GET /api/compare?a=P&b=Q&offset=N  records of P with the record of Q for the same prompt id
//   GET /api/events                    server-sent events when run files change (events.ts)
// Safety: binds 127.0.0.1 unless told otherwise, and any other address needs a token (src/util/bearer.ts, the rule
// `sso serve` follows), sent as `Authorization: Bearer T`, or once as ?token=T on the page, which sets a cookie;
// without a token a request must name a loopback Host (a page on another site cannot reach the dashboard through
// DNS rebinding); only .json/.jsonl files under the root are read (files.ts); a failure is a JSON error, never a
// crash. Deliberately not here: the command line (src/cli/ui.ts), the views (ui/ in the repository).
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bearerMatches, isLoopback, sameSecret } from "../util/bearer.js";
import { RunWatcher } from "./events.js";
import { readJsonlPage, readSmallJson, resolveUnder, UiError } from "./files.js";
import { idIndex, type RecordFilter, recordAt, recordsPage } from "./records.js";
import { discoverRuns } from "./runs.js";

export interface UiOptions {
  /** The folder whose runs are shown. */
  runs: string;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  token?: string;
  /** How often run files are polled for changes while a page listens (default 500 ms). */
  pollMs?: number;
}

export interface RunningUi {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));
const STATIC: Record<string, string> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/app.css": "app.css",
};
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
const COOKIE = "sso_ui_token";

/** Checks before any work: the root is a folder, and an address other than loopback comes with a token. */
export function checkUiOptions(o: UiOptions): string {
  const host = o.host ?? "127.0.0.1";
  if (!isLoopback(host) && !o.token)
    throw new Error(
      `--host ${host}: another machine could read every run; give a token (--token or $SSO_UI_TOKEN), as sso serve needs --api-key`,
    );
  if (!existsSync(o.runs) || !statSync(o.runs).isDirectory()) throw new Error(`--runs ${o.runs}: not a folder`);
  if (!existsSync(join(PUBLIC_DIR, "app.js")))
    throw new Error(`${PUBLIC_DIR}: the dashboard's bundle is missing (run \`npm run build:ui\`)`);
  return realpathSync(o.runs);
}

export async function startUi(o: UiOptions): Promise<RunningUi> {
  const root = checkUiOptions(o),
    host = o.host ?? "127.0.0.1";
  const watcher = new RunWatcher(root, o.pollMs ?? 500);
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    try {
      handle(req, res, root, o.token, watcher);
    } catch (e) {
      sendError(res, e);
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 8080, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        watcher.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const status = e instanceof UiError ? e.status : 500;
  sendJson(res, status, { error: e instanceof Error ? e.message : String(e) });
}

const cookieToken = (req: IncomingMessage): string | undefined =>
  /(?:^|;\s*)sso_ui_token=([^;]*)/.exec(req.headers.cookie ?? "")?.[1];

function authorize(req: IncomingMessage, url: URL, token: string | undefined): { setCookie?: boolean } {
  if (token === undefined) {
    const hostname = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (!isLoopback(hostname)) throw new UiError(403, `Host ${hostname}: the dashboard answers only on loopback`);
    return {};
  }
  if (bearerMatches(req.headers.authorization, token)) return {};
  const c = cookieToken(req);
  if (c !== undefined && sameSecret(decodeURIComponent(c), token)) return {};
  const q = url.searchParams.get("token");
  if (url.pathname === "/" && q !== null && sameSecret(q, token)) return { setCookie: true };
  throw new UiError(401, "missing or wrong token (send Authorization: Bearer TOKEN, or open /?token=TOKEN)");
}

const int = (url: URL, key: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number => {
  const v = url.searchParams.get(key);
  if (v === null || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UiError(400, `${key}=${v}: not a non-negative integer`);
  return Math.min(n, max);
};
const optNum = (url: URL, key: string): number | undefined => {
  const v = url.searchParams.get(key);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UiError(400, `${key}=${v}: not a number`);
  return n;
};

/** A .json/.jsonl file under the root, named by a query parameter. */
function dataFile(root: string, url: URL, key: string): string {
  const rel = url.searchParams.get(key);
  if (rel === null) throw new UiError(400, `${key}: missing`);
  if (!/\.jsonl?$/.test(rel)) throw new UiError(403, `${rel}: only .json and .jsonl files are served`);
  const path = resolveUnder(root, rel);
  if (!statSync(path).isFile()) throw new UiError(404, `${rel}: not a file`);
  return path;
}

/** The α of a records file's run (run.json next to iter-k/ or iter-k/generator/), else the objective's default. */
function alphaOf(root: string, rel: string): number {
  const parts = rel.split("/");
  for (let i = parts.length - 1; i > 0; i--) {
    const p = join(root, ...parts.slice(0, i), "run.json");
    if (existsSync(p)) {
      try {
        const a = (readSmallJson(p) as { config?: { train?: { objective?: { alpha?: unknown } } } }).config?.train
          ?.objective?.alpha;
        if (typeof a === "number") return a;
      } catch {}
      break;
    }
  }
  return 0.5;
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  token: string | undefined,
  watcher: RunWatcher,
): void {
  const url = new URL(req.url ?? "/", "http://localhost");
  const { setCookie } = authorize(req, url, token);
  if (req.method !== "GET" && req.method !== "HEAD")
    throw new UiError(405, `${req.method}: the dashboard is read-only (GET only)`);
  if (url.pathname === "/favicon.ico") {
    res.writeHead(204).end();
    return;
  }
  const file = STATIC[url.pathname];
  if (file) {
    const body = readFileSync(join(PUBLIC_DIR, file));
    res.writeHead(200, {
      "content-type": TYPES[file.split(".").pop()!],
      "content-length": body.length,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      ...(file === "index.html" && {
        "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
      }),
      ...(setCookie && { "set-cookie": `${COOKIE}=${encodeURIComponent(token!)}; HttpOnly; SameSite=Strict; Path=/` }),
    });
    res.end(req.method === "HEAD" ? undefined : body);
    return;
  }
  switch (url.pathname) {
    case "/api/runs":
      sendJson(res, 200, { root, now: Date.now(), runs: discoverRuns(root) });
      return;
    case "/api/json":
      sendJson(res, 200, readSmallJson(dataFile(root, url, "path")));
      return;
    case "/api/lines": {
      const path = dataFile(root, url, "path");
      sendJson(res, 200, readJsonlPage(path, int(url, "offset", 0), int(url, "limit", 5000, 20000)));
      return;
    }
    case "/api/records": {
      const path = dataFile(root, url, "path"),
        s = url.searchParams;
      const f: RecordFilter = {
        q: s.get("q") || undefined,
        feature: s.get("feature") || undefined,
        wmin: optNum(url, "wmin"),
        wmax: optNum(url, "wmax"),
        lenmin: optNum(url, "lenmin"),
        lenmax: optNum(url, "lenmax"),
      };
      const alpha = alphaOf(root, s.get("path")!);
      sendJson(res, 200, recordsPage(path, int(url, "offset", 0), int(url, "limit", 50, 500), f, alpha));
      return;
    }
    case "/api/compare": {
      const a = dataFile(root, url, "a"),
        b = dataFile(root, url, "b");
      const page = readJsonlPage(a, int(url, "offset", 0), int(url, "limit", 20, 200));
      const index = idIndex(b);
      const pairs = page.lines.map((l) => {
        const id = (l.value as { id?: unknown } | undefined)?.id;
        const at = typeof id === "string" ? index.get(id) : undefined;
        return { a: l, b: at === undefined ? null : recordAt(b, at) };
      });
      sendJson(res, 200, { pairs, next: page.next, size: page.size });
      return;
    }
    case "/api/events":
      watcher.attach(res);
      return;
    default:
      throw new UiError(404, `${url.pathname}: no such page`);
  }
}
