// Reliability of `sso serve` (issue #30, items 9 and 14): a stream still running when the shutdown grace period
// ends gets an error event (vLLM's shape) and [DONE] instead of being cut, in-process and through SIGTERM of the
// command; and the server's hardening: request/header timeouts, a cap on open connections, 405 with Allow for a
// wrong method on a known route, and the API key checked whatever its length.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { serve } from "../../src/serve/server.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeTinyModel, startServe } from "../helpers.js";

const dir = makeTinyModel(5);
const model = loadModel(dir, getBackend("cpu"));
const tok = Tokenizer.fromDir(dir);

/** A long greedy generation: the tiny model needs seconds for it, far more than the grace periods below. */
const LONG = {
  model: "tiny",
  messages: [{ role: "user", content: "Write a long story." }],
  max_tokens: 3500,
  temperature: 0,
  stream: true,
};

/** Posts a streaming request; resolves once the first bytes arrive, with a promise of the whole body. */
async function startStream(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value, { stream: true });
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { rest };
}

/** The data payloads of an SSE body. */
const events = (body: string) =>
  body
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6));

function assertEndsWithShutdownError(body: string): void {
  const ev = events(body);
  assert.ok(ev.length >= 3, `some chunks, then the end: ${body.slice(0, 300)}`);
  assert.equal(ev[ev.length - 1], "[DONE]", "the stream ends with [DONE]");
  const last = JSON.parse(ev[ev.length - 2]);
  assert.deepEqual(Object.keys(last), ["error"], `an error event before [DONE]: ${ev[ev.length - 2]}`);
  assert.deepEqual(Object.keys(last.error).sort(), ["code", "message", "param", "type"]);
  assert.equal(last.error.code, 503);
  assert.match(last.error.message, /shutting down: the generation did not finish within the .* s grace period/);
  // No chunk claims a normal finish: the answer was cut, and says so.
  for (const e of ev.slice(0, -2)) assert.equal(JSON.parse(e).choices[0].finish_reason, null);
}

describe("sso serve: a stream running when the grace period ends (#30 item 9)", () => {
  it("in-process: close(grace) ends it with an error event and [DONE]", async () => {
    const s = await serve({ model, tok, modelName: "tiny", port: 0, maxBatch: 2 });
    const { rest } = await startStream(s.url, LONG);
    const t0 = performance.now();
    await s.close(200);
    assert.ok(performance.now() - t0 < 5_000, "closed soon after the grace period");
    assertEndsWithShutdownError(await rest);
  });

  it("sso serve --grace: SIGTERM mid-stream ends it with an error event and [DONE], and exits 0", async () => {
    const { server, url, exited } = await startServe(["--model", dir, "--grace", "0.3", "--served-model-name", "tiny"]);
    const kill = setTimeout(() => server.kill("SIGKILL"), 60_000);
    try {
      const { rest } = await startStream(url, LONG);
      server.kill("SIGTERM");
      assertEndsWithShutdownError(await rest);
      assert.equal(await exited, 0);
    } finally {
      clearTimeout(kill);
      server.kill("SIGKILL");
    }
  });
});
