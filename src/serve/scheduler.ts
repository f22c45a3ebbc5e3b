// The server's model loop: one Decoder whose slots are shared by every in-flight request. Requests wait in a
// bounded queue; between steps the loop first scores waiting prompt-log-prob jobs (one packed forward), then
// admits waiting generations into free slots (one prefill), else decodes one token for all active sequences,
// yielding to the event loop after each so that HTTP stays responsive. Each request samples from its own seeded
// RNG, so its tokens do not depend on what else is in the batch. A request's jobs enter the queue together or
// not at all (submit), so a refused request leaves nothing behind. Not here: HTTP, JSON shapes (server.ts and
// the endpoint files beside it).
import type { Model } from "../model/model.js";
import { Decoder, type GenerationRequest, type GenerationResult } from "../sample/generate.js";

/** Log-prob of a token and, when asked for, the most likely tokens at its position. */
export interface TokenLogprob {
  token: number;
  logprob: number;
  /** 1 = the most likely token. */
  rank: number;
  top: { token: number; logprob: number }[];
}

export interface GenerationJob {
  request: GenerationRequest;
  /** Top alternatives reported per generated token; null = no log-probs. */
  logprobs: number | null;
  /** Streaming: every sampled token (an end-of-sequence one included). */
  onToken?: (t: TokenLogprob | { token: number }) => void;
}

export interface JobOutput {
  result: GenerationResult;
  /** Per sampled token (the end-of-sequence one included), when logprobs was asked for. */
  logprobs: TokenLogprob[] | null;
}

/** The request does not fit beside what waits now; it may fit later (HTTP 429). */
export class QueueFullError extends Error {}
/** The request has more jobs than the queue can ever hold; it can never succeed as sent (HTTP 400). */
export class RequestTooLargeError extends Error {}
export class ShuttingDownError extends Error {}
/** A log-prob came out NaN or ±Infinity: the model's weights hold NaN/Infinity or its activations overflow (HTTP 500). */
export class NonFiniteLogprobError extends Error {
  constructor(what: string, x: number) {
    super(`the model's log-prob of ${what} is ${x}: its weights hold NaN or ±Infinity, or its activations overflow`);
  }
}

interface Waiting<J, R> {
  job: J;
  resolve: (v: R) => void;
  reject: (e: Error) => void;
}

function waiting<J, R>(job: J): Waiting<J, R> & { promise: Promise<R> } {
  let resolve!: (v: R) => void, reject!: (e: Error) => void;
  const promise = new Promise<R>((res, rej) => ([resolve, reject] = [res, rej]));
  return { job, resolve, reject, promise };
}

export interface ScoreJob {
  ids: readonly number[];
  /** Top alternatives per position (0 = only the token itself). */
  top: number;
}

/**
 * Log-softmax facts about one token of a logits row. `known` is the token's log-prob when the caller has it (a
 * scoring forward computes it): then, for top ≤ 1 (what prompt_logprobs 0 or 1 ask for), one pass over the row
 * finds the rank and the best token, with the normaliser read back from the known log-prob.
 */
export function tokenLogprob(row: Float32Array, token: number, top: number, known?: number): TokenLogprob {
  if (known !== undefined && top <= 1) {
    const x = row[token];
    let rank = 1,
      best = 0;
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v > x || (v === x && i < token)) rank++;
      if (v > row[best]) best = i;
    }
    const lse = x - known;
    return { token, logprob: known, rank, top: top === 1 ? [{ token: best, logprob: row[best] - lse }] : [] };
  }
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  let rank = 1;
  for (let i = 0; i < row.length; i++) if (row[i] > row[token] || (row[i] === row[token] && i < token)) rank++;
  const best: number[] = [];
  if (top > 0) {
    for (let i = 0; i < row.length; i++) {
      if (best.length < top || row[i] > row[best[best.length - 1]]) {
        best.push(i);
        best.sort((a, b) => row[b] - row[a] || a - b);
        if (best.length > top) best.pop();
      }
    }
  }
  return {
    token,
    logprob: known ?? row[token] - lse,
    rank,
    top: best.map((t) => ({ token: t, logprob: row[t] - lse })),
  };
}

/** The outcomes of one submit, in the order of its jobs. */
export interface Submitted {
  generated: Promise<JobOutput>[];
  scored: Promise<TokenLogprob[]>[];
}

export interface SchedulerOptions {
  maxBatch: number;
  /** Jobs waiting for a slot (generation) or a forward (scoring); a request whose jobs do not fit gets 429. */
  maxQueue: number;
  eosIds: readonly number[];
  decode: (ids: number[]) => string;
  /** Tokens per packed scoring forward. */
  scoreBatchTokens?: number;
}

interface Running {
  job: GenerationJob;
  logprobs: TokenLogprob[] | null;
  /** Set when one of its log-probs is not finite: the job fails (never a null log-prob in the answer). */
  error?: NonFiniteLogprobError;
  resolve: (v: JobOutput) => void;
  reject: (e: Error) => void;
}

export class Scheduler {
  private readonly decoder: Decoder;
  private readonly waiting: Waiting<GenerationJob, JobOutput>[] = [];
  private readonly scoring: Waiting<ScoreJob, TokenLogprob[]>[] = [];
  private readonly running = new Map<number, Running>();
  private nextId = 0;
  private wake: (() => void) | null = null;
  private closed = false;
  private loopDone: Promise<void>;

  constructor(
    private readonly model: Model,
    private readonly opts: SchedulerOptions,
  ) {
    this.decoder = new Decoder(model, opts.maxBatch, model.config.maxPositionEmbeddings, {
      eosIds: opts.eosIds,
      decode: opts.decode,
      onToken: (id, token, row) => {
        const r = this.running.get(id);
        if (!r || r.error) return;
        const lp = r.job.logprobs !== null ? tokenLogprob(row, token, r.job.logprobs) : null;
        if (lp && !Number.isFinite(lp.logprob)) {
          r.error = new NonFiniteLogprobError(`generated token ${r.logprobs!.length + 1}`, lp.logprob);
          return; // not streamed; dropFailed() ends the job after this step
        }
        if (lp) r.logprobs!.push(lp);
        r.job.onToken?.(lp ?? { token });
      },
      onResult: (id, result) => {
        const r = this.running.get(id)!;
        this.running.delete(id);
        if (r.error) r.reject(r.error);
        else r.resolve({ result, logprobs: r.logprobs });
      },
    });
    this.loopDone = this.loop();
  }

  /** The longest prompt + completion a request may have. */
  get maxPositions(): number {
    return this.model.config.maxPositionEmbeddings;
  }

  /** Jobs waiting (generations for a slot, scorings for a forward). */
  get queued(): number {
    return this.waiting.length + this.scoring.length;
  }

  /** Generations holding a decoder slot now. */
  get active(): number {
    return this.running.size;
  }

  /** The most jobs that may wait at once (maxQueue): no request with more jobs can ever be admitted. */
  get capacity(): number {
    return this.opts.maxQueue;
  }

  /**
   * Queues one request's jobs all together or none of them. Throws before queueing anything: ShuttingDownError
   * when closed, RequestTooLargeError when they are more than the queue can ever hold, QueueFullError when they
   * do not fit beside the jobs waiting now. `signal` aborts every one of them, through a single listener (removed
   * once all have settled) however many jobs the request has.
   */
  submit(work: { generate?: readonly GenerationJob[]; score?: readonly ScoreJob[] }, signal?: AbortSignal): Submitted {
    const gen = work.generate ?? [],
      score = work.score ?? [];
    const need = gen.length + score.length,
      cap = this.opts.maxQueue;
    if (this.closed) throw new ShuttingDownError("the server is shutting down");
    if (need > cap)
      throw new RequestTooLargeError(
        `the request needs ${need} places in the request queue, which holds at most ${cap} (--max-queue); split it into smaller requests`,
      );
    if (this.queued + need > cap)
      throw new QueueFullError(
        `the request queue is full (${this.queued} of ${cap} places taken, this request needs ${need}); retry later`,
      );
    const gw = gen.map((job) => waiting<GenerationJob, JobOutput>(job));
    const sw = score.map((job) => waiting<ScoreJob, TokenLogprob[]>(job));
    this.waiting.push(...gw);
    this.scoring.push(...sw);
    const submitted = { generated: gw.map((w) => w.promise), scored: sw.map((w) => w.promise) };
    if (signal && need > 0) {
      const onAbort = () => {
        gw.forEach((w) => this.abort(w));
        for (const w of sw) {
          const i = this.scoring.indexOf(w);
          if (i >= 0) this.scoring.splice(i, 1) && w.reject(new Error("aborted"));
        }
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        void Promise.allSettled([...submitted.generated, ...submitted.scored]).then(() =>
          signal.removeEventListener("abort", onAbort),
        );
      }
    }
    this.wake?.();
    return submitted;
  }

  /** One generation job: submit with one job. */
  generate(job: GenerationJob, signal?: AbortSignal): Promise<JobOutput> {
    return this.submit({ generate: [job] }, signal).generated[0];
  }

  /**
   * Prompt log-probs: for positions 1..n−1, log p(ids[t] | ids[<t]) with its rank and `top` alternatives
   * (position 0 has none). The numbers are what `scoreItems` computes for the same tokens. One scoring job.
   */
  promptLogprobs(ids: readonly number[], top: number): Promise<TokenLogprob[]> {
    return this.submit({ score: [{ ids, top }] }).scored[0];
  }

  /** Stops taking requests, fails the waiting ones, and resolves when the running ones have finished. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiting.splice(0), ...this.scoring.splice(0)])
      w.reject(new ShuttingDownError("the server is shutting down"));
    this.wake?.();
    await this.loopDone;
  }

  /**
   * Ends every running generation now, failing it with ShuttingDownError(`message`) (the end of the grace period at
   * shutdown): its stream gets an error event instead of being cut.
   */
  abortRunning(message: string): void {
    for (const [id, r] of this.running) {
      this.decoder.cancel(id);
      this.running.delete(id);
      r.reject(new ShuttingDownError(message));
    }
    this.wake?.();
  }

  private abort(w: Waiting<GenerationJob, JobOutput>): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      w.reject(new Error("aborted"));
      return;
    }
    for (const [id, r] of this.running) {
      if (r.job !== w.job) continue;
      this.decoder.cancel(id);
      this.running.delete(id);
      r.reject(new Error("aborted"));
    }
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.scoring.length > 0) this.scoreWaiting();
      else if (this.waiting.length > 0 && this.decoder.size < this.decoder.slots) this.admitWaiting();
      else if (this.decoder.size > 0) this.guard([...this.running.values()], () => this.decoder.step());
      else if (this.closed) return;
      else await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
      this.dropFailed();
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Runs model work; if it throws, fails the requests it was for instead of the loop. */
  /** Ends the jobs whose log-probs went non-finite (marked by onToken, which must not disturb the decoder's step). */
  private dropFailed(): void {
    for (const [id, r] of this.running)
      if (r.error) {
        this.running.delete(id);
        this.decoder.cancel(id);
        r.reject(r.error);
      }
  }

  private guard(owners: { reject: (e: Error) => void }[], fn: () => void): void {
    try {
      fn();
    } catch (e) {
      owners.forEach((o) => o.reject(e as Error));
      for (const [id, r] of this.running) if (owners.includes(r)) this.running.delete(id) && this.decoder.cancel(id);
    }
  }

  private admitWaiting(): void {
    const batch = this.waiting.splice(0, this.decoder.slots - this.decoder.size);
    const admitted = batch.map((w) => {
      const id = this.nextId++;
      const r: Running = {
        job: w.job,
        logprobs: w.job.logprobs !== null ? [] : null,
        resolve: w.resolve,
        reject: w.reject,
      };
      this.running.set(id, r);
      return { index: id, request: w.job.request, r };
    });
    this.guard(
      admitted.map((a) => a.r),
      () => this.decoder.admit(admitted),
    );
  }

  /** Packs waiting scoring jobs into forwards of at most scoreBatchTokens tokens. */
  private scoreWaiting(): void {
    const budget = this.opts.scoreBatchTokens ?? 4096;
    let tokens = 0,
      n = 0;
    while (n < this.scoring.length && (n === 0 || tokens + this.scoring[n].job.ids.length <= budget))
      tokens += this.scoring[n++].job.ids.length;
    const batch = this.scoring.splice(0, n);
    this.guard(batch, () => {
      const wantLogits = batch.some((w) => w.job.top > 0);
      const { outputs } = this.model.forward(
        batch.map((w) => ({ ids: w.job.ids, scoreFrom: 1 })),
        { wantLogits: true },
      );
      const V = this.model.config.vocabSize;
      batch.forEach((w, s) => {
        const o = outputs[s];
        const bad = o.tokenLogps.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) return w.reject(new NonFiniteLogprobError(`prompt token ${bad + 2}`, o.tokenLogps[bad]));
        w.resolve(
          Array.from(o.tokenLogps, (logprob, t) => {
            const token = w.job.ids[t + 1];
            // The log-prob is the forward's own (as scoreItems returns it); rank and alternatives come from the logits.
            return tokenLogprob(o.logits!.subarray(t * V, (t + 1) * V), token, wantLogits ? w.job.top : 0, logprob);
          }),
        );
      });
    });
  }
}
