// A request is admitted to the scheduler's queue whole or not at all: more prompts than the queue can ever hold
// get 400 naming the limit (and nothing of them runs), a request that does not fit beside what waits gets 429
// (and nothing of it is queued), prompt scorings count as jobs too; one AbortSignal listener per request however
// many prompts (no MaxListenersExceededWarning), and a client that goes away takes all its prompts with it.
// Small queues (maxQueue 4, maxBatch 1) keep it quick; a greedy 4000-token generation from "x" (the tiny model
// does not stop early at temperature 0) holds the one slot long enough to look at the queue, and is aborted after.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { type GenerationJob, QueueFullError, RequestTooLargeError, Scheduler } from "../../src/serve/scheduler.js";
import { type RunningServer, serve } from "../../src/serve/server.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeTinyModel } from "../sso/helpers.js";

const dir = makeTinyModel(5);
const model = loadModel(dir, getBackend("cpu"));
const tok = Tokenizer.fromDir(dir);

type Answer = { status: number; json: { error?: { message: string }; choices?: unknown[] } };
const post = async (s: RunningServer, body: unknown, signal?: AbortSignal): Promise<Answer> => {
  const res = await fetch(`${s.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    signal,
  });
  return { status: res.status, json: (await res.json()) as Answer["json"] };
};

/** Resolves once cond() holds; fails after `ms` (generous: a bound on a hang, not a timing assertion). */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A request whose first prompt holds the only slot for a long while; abort() ends it (the fetch rejects). */
function longRequest(s: RunningServer, prompts: number): { abort: () => Promise<void> } {
  const ctrl = new AbortController();
  const done = post(s, { prompt: Array(prompts).fill("x"), max_tokens: 4000, temperature: 0 }, ctrl.signal).catch(
    () => undefined,
  );
  return {
    abort: async () => {
      ctrl.abort();
      await done;
    },
  };
}

describe("sso serve admits a request whole or not at all", () => {
  let s: RunningServer;
  before(async () => {
    s = await serve({ model, tok, modelName: "tiny", port: 0, maxBatch: 1, maxQueue: 4 });
  });
  after(() => s.close());

  it("answers 400 naming the limit for more prompts than the queue holds, runs none of them, and serves the next request", async () => {
    const r = await post(s, { prompt: Array(5).fill("x"), max_tokens: 4000, temperature: 0 });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error!.message, /5 prompts need 5 places .* at most 4 .*send at most 4 prompts/);
    assert.deepEqual(
      [s.scheduler.queued, s.scheduler.active],
      [0, 0],
      "nothing of the refused request is queued or running",
    );
    const small = await post(s, { prompt: "y", max_tokens: 2 });
    assert.equal(small.status, 200, JSON.stringify(small.json));
    assert.deepEqual([s.scheduler.queued, s.scheduler.active], [0, 0]);
  });

  it("counts prompt scorings: 3 prompts with prompt_logprobs need 6 places, more than 4 → 400", async () => {
    const r = await post(s, { prompt: ["ab", "cd", "ef"], max_tokens: 1, prompt_logprobs: 0 });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error!.message, /3 prompts need 6 places .*two places.*send at most 2 prompts/);
    const ok = await post(s, { prompt: ["ab", "cd"], max_tokens: 1, prompt_logprobs: 0 });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.choices!.length, 2);
  });

  it("answers 429 to a request that does not fit beside the waiting ones, and queues none of its prompts", async () => {
    const a = longRequest(s, 3);
    try {
      await until(
        () => s.scheduler.active === 1 && s.scheduler.queued === 2,
        "the long request to fill the slot and 2 queue places",
      );
      const r = await post(s, { prompt: ["p", "q", "r"], max_tokens: 1 });
      assert.equal(r.status, 429, JSON.stringify(r.json));
      assert.match(r.json.error!.message, /queue is full \(2 of 4 places taken, this request needs 3\)/);
      assert.equal(s.scheduler.queued, 2, "only the long request's prompts wait");
      assert.equal(s.scheduler.active, 1);
      const fits = new AbortController();
      const queued = post(s, { prompt: ["p", "q"], max_tokens: 1 }, fits.signal).catch(() => undefined);
      await until(() => s.scheduler.queued === 4, "two prompts, which do fit beside the two waiting, to be queued");
      fits.abort();
      await queued;
    } finally {
      await a.abort();
    }
    await until(
      () => s.scheduler.active === 0 && s.scheduler.queued === 0,
      "the aborted requests to leave the scheduler",
    );
  });

  it("a client that goes away takes every prompt of its request out of the scheduler", async () => {
    const a = longRequest(s, 4);
    await until(() => s.scheduler.active === 1 && s.scheduler.queued === 3, "the long request to start");
    await a.abort();
    await until(() => s.scheduler.active === 0 && s.scheduler.queued === 0, "all four prompts to be aborted");
  });
});

describe("sso serve with many prompts per request", () => {
  it("adds one abort listener per request, not per prompt (no MaxListenersExceededWarning at 12 prompts)", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const s = await serve({ model, tok, modelName: "tiny", port: 0, maxBatch: 4, maxQueue: 32 });
    try {
      const r = await post(s, { prompt: Array.from({ length: 12 }, (_, i) => `p${i}`), max_tokens: 2, seed: 1 });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.choices!.length, 12);
      await new Promise((r) => setTimeout(r, 20)); // process 'warning' is emitted on a later tick
      assert.deepEqual(
        warnings.filter((w) => w.name === "MaxListenersExceededWarning").map((w) => w.message),
        [],
      );
    } finally {
      process.off("warning", onWarning);
      await s.close();
    }
  });
});

describe("Scheduler.submit", () => {
  it("queues all of a request's jobs or none, and says why not", async () => {
    const sched = new Scheduler(model, {
      maxBatch: 1,
      maxQueue: 4,
      eosIds: tok.stopIds,
      decode: (ids) => tok.decode(ids),
    });
    const job = (): GenerationJob => ({
      request: { promptIds: [120], params: { temperature: 0, topP: 1, topK: 0, maxNewTokens: 3, stop: [] }, seed: 0 },
      logprobs: null,
    });
    const a = sched.submit({ generate: [job(), job()], score: [{ ids: [1, 2, 3], top: 0 }] });
    assert.equal(sched.queued, 3);
    assert.throws(() => sched.submit({ generate: [job(), job()] }), QueueFullError);
    assert.throws(
      () =>
        sched.submit({
          score: [
            { ids: [1, 2], top: 0 },
            { ids: [3, 4], top: 0 },
          ],
        }),
      QueueFullError,
    );
    assert.throws(
      () =>
        sched.submit({
          generate: [job(), job(), job()],
          score: [
            { ids: [1, 2], top: 0 },
            { ids: [3, 4], top: 0 },
          ],
        }),
      RequestTooLargeError,
    );
    assert.equal(sched.queued, 3, "the refused submissions left nothing in the queue");
    const b = sched.submit({ generate: [job()] });
    assert.equal(sched.queued, 4);
    const outs = await Promise.all([...a.generated, ...b.generated]);
    assert.ok(outs.every((o) => o.result.tokens.length > 0));
    assert.equal((await a.scored[0]).length, 2);
    await sched.close();
  });
});
