// The HTTP client the remote engines share: JSON GET/POST under one base URL with a bearer key, a timeout per
// request, and bounded retries with exponential backoff on 429, 5xx and network errors (every other status fails
// at once with the server's own message); and `pool`, which runs requests with bounded concurrency. Not here:
// what is sent or read back (openai.ts, sglang.ts).

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

/** Tries after a 429 (queue full) before giving up. */
const BUSY_RETRIES = 30;

export class Http {
  constructor(
    /** Server root, no trailing slash (paths start with /). */
    readonly root: string,
    private readonly opts: HttpOptions = {},
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  /** One JSON request, retried on 429 / 5xx / network errors with exponential backoff. */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.root}${path}`,
      retries = this.opts.retries ?? 4,
      timeoutMs = this.opts.timeoutMs ?? 600_000;
    for (let attempt = 0; ; attempt++) {
      let res: Response | null = null,
        error: Error;
      try {
        res = await fetch(url, {
          method,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
          headers: {
            "content-type": "application/json",
            ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
          },
        });
        const text = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(text) as T;
          } catch {
            throw new Error(`${method} ${url}: the answer is not JSON: ${text.slice(0, 200)}`);
          }
        }
        error = new HttpStatusError(res.status, `${method} ${url}: HTTP ${res.status}: ${serverMessage(text)}`);
      } catch (e) {
        if (res?.ok) throw e; // an answer that is not JSON: retrying does not help
        const timedOut = (e as Error).name === "TimeoutError";
        error = new Error(
          `${method} ${url}: ${timedOut ? `no answer within ${timeoutMs / 1000} s` : (e as Error).message}`,
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
