// The HTTP client the remote engines share: JSON GET/POST under one base URL with a bearer key, a timeout per
// request, and bounded retries with exponential backoff on 429, 5xx and network errors (every other status fails
// at once with the server's own message, and a request that cannot even be built is not retried); and `pool`,
// which runs requests with bounded concurrency. Credentials in the base URL (`http://user:pass@host`, which Node's
// fetch refuses) are sent as HTTP Basic authorization, as curl and Python's requests do — refused with one line
// when an API key is given too (both would be the Authorization header). Every URL in a message is redacted
// (src/util/redact.ts). Not here: what is sent or read back (openai.ts, sglang.ts).
import { redactText, redactUrl, splitCredentials } from "../util/redact.js";

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

export interface HttpOptions {
  apiKey?: string;
  timeoutMs?: number;
  /** Retries after the first attempt, on 429, 5xx and network errors. */
  retries?: number;
  /** First backoff; doubled per retry. */
  backoffMs?: number;
}

/** The server's error message: OpenAI's {error: {message}}, FastAPI's {detail}, SGLang's {message}, or the text. */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string; detail?: unknown };
    const m = typeof j.error === "string" ? j.error : (j.error?.message ?? j.message ?? j.detail);
    if (m !== undefined) return typeof m === "string" ? m : JSON.stringify(m);
  } catch {
    /* not JSON: the raw text */
  }
  return text.slice(0, 300);
}

/** fetch's network failure ("fetch failed") with its cause (ECONNREFUSED …), which says what went wrong. */
function networkMessage(e: Error): string {
  const cause = (e as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message && e.message === "fetch failed" ? `${e.message}: ${cause.message}` : e.message;
}

/** Tries after a 429 (queue full) before giving up. */
const BUSY_RETRIES = 30;

export class Http {
  /** Server root without credentials, no trailing slash (paths start with /). */
  readonly root: string;
  /** The root as messages show it (secrets redacted). */
  readonly shown: string;
  private readonly authorization: string | undefined;

  constructor(
    root: string,
    private readonly opts: HttpOptions = {},
  ) {
    const { url, user, password } = splitCredentials(root);
    this.root = url;
    this.shown = redactUrl(url);
    if (user !== undefined && opts.apiKey)
      throw new Error(
        `${redactUrl(root)}: the URL holds credentials (user:password@) and a bearer API key is set too (a flag, or a variable such as OPENAI_API_KEY); keep only one: both would be the Authorization header`,
      );
    this.authorization =
      user !== undefined
        ? `Basic ${Buffer.from(`${user}:${password ?? ""}`).toString("base64")}`
        : opts.apiKey
          ? `Bearer ${opts.apiKey}`
          : undefined;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** One JSON request, retried on 429 / 5xx / network errors with exponential backoff. */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.root}${path}`,
      shown = `${this.shown}${path}`,
      retries = this.opts.retries ?? 4,
      timeoutMs = this.opts.timeoutMs ?? 600_000;
    for (let attempt = 0; ; attempt++) {
      let res: Response | null = null,
        error: Error,
        req: Request;
      try {
        req = new Request(url, {
          method,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
          headers: {
            "content-type": "application/json",
            ...(this.authorization ? { authorization: this.authorization } : {}),
          },
        });
      } catch (e) {
        // A URL or header fetch cannot send (a malformed URL, a key with a newline): the same every time.
        throw new Error(`${method} ${shown}: the request cannot be sent: ${redactText((e as Error).message)}`);
      }
      try {
        res = await fetch(req);
        const text = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(text) as T;
          } catch {
            throw new Error(`${method} ${shown}: the answer is not JSON: ${text.slice(0, 200)}`);
          }
        }
        error = new HttpStatusError(
          res.status,
          `${method} ${shown}: HTTP ${res.status}: ${redactText(serverMessage(text))}`,
        );
      } catch (e) {
        if (res?.ok) throw e; // an answer that is not JSON: retrying does not help
        const timedOut = (e as Error).name === "TimeoutError";
        error = new Error(
          `${method} ${shown}: ${timedOut ? `no answer within ${timeoutMs / 1000} s` : redactText(networkMessage(e as Error))}`,
        );
      }
      if (error instanceof HttpStatusError && error.status !== 429 && error.status < 500) throw error;
      // A full queue (429) is a normal state of a busy server, not a failure: it gets many more tries, each wait
      // capped at 10 s (about 4 minutes in all with the defaults).
      const busy = error instanceof HttpStatusError && error.status === 429;
      const limit = busy ? Math.max(retries, BUSY_RETRIES) : retries;
      if (attempt >= limit) throw new Error(`${error.message} (after ${limit + 1} attempts)`);
      const wait = (this.opts.backoffMs ?? 500) * 2 ** attempt;
      await new Promise((r) => setTimeout(r, busy ? Math.min(wait, 10_000) : wait));
    }
  }
}
