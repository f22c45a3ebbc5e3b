// Reliability of `sso serve` (issue #30, items 9 and 14): a stream still running when the shutdown grace period
// ends gets an error event (vLLM's shape) and [DONE] instead of being cut, in-process and through SIGTERM of the
// command; and the server's hardening: request/header timeouts, a cap on open connections, 405 with Allow for a
// wrong method on a known route, and the API key checked whatever its length.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { type RunningServer, serve } from "../../src/serve/server.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeTinyModel, runCli, startServe } from "../helpers.js";

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

  it("in-process: a request that is not streamed gets a 503 when the grace period ends", async () => {
    const s = await serve({ model, tok, modelName: "tiny", port: 0, maxBatch: 2 });
    const answer = fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...LONG, stream: false }),
    });
    for (let i = 0; i < 500 && s.scheduler.active === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.scheduler.active, 1, "the generation runs");
    await s.close(100);
    const res = await answer;
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { message: string; type: string } };
    assert.match(body.error.message, /did not finish within the 0\.1 s grace period/);
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

/** A raw TCP connection to the server; resolves once connected, with everything it receives and when it closes. */
async function rawSocket(port: number): Promise<{ sock: Socket; received: () => string; closed: Promise<void> }> {
  const sock = connect(port, "127.0.0.1");
  let data = "";
  sock.on("data", (d) => (data += d));
  sock.on("error", () => {});
  const closed = new Promise<void>((r) => sock.on("close", () => r()));
  await new Promise<void>((r, j) => sock.once("connect", r).once("error", j));
  return { sock, received: () => data, closed };
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);

describe("sso serve hardening (#30 item 14)", () => {
  it("defaults: header and request timeouts far below Node's 300 s, and a connection cap", async () => {
    const s = await serve({ model, tok, modelName: "tiny", port: 0 });
    try {
      assert.ok(s.server.headersTimeout <= 10_000, `headersTimeout ${s.server.headersTimeout}`);
      assert.ok(s.server.requestTimeout > 0 && s.server.requestTimeout <= 30_000, `${s.server.requestTimeout}`);
      assert.ok(s.server.maxConnections > 0 && s.server.maxConnections <= 1024, `${s.server.maxConnections}`);
    } finally {
      await s.close();
    }
  });

  describe("with short timeouts", () => {
    let s: RunningServer;
    before(async () => {
      s = await serve({ model, tok, modelName: "tiny", port: 0, headersTimeoutMs: 300, requestTimeoutMs: 600 });
    });
    after(() => s.close(0));

    it("headers that never end: 408 and the connection closed", async () => {
      const c = await rawSocket(s.port);
      c.sock.write("POST /v1/completions HTTP/1.1\r\nHost: x\r\n");
      assert.ok(await within(c.closed, 3_000), "closed within 3 s");
      assert.match(c.received(), /^HTTP\/1\.1 408/);
    });

    it("a body that never ends: 408 and the connection closed", async () => {
      const c = await rawSocket(s.port);
      c.sock.write("POST /v1/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n");
      c.sock.write('content-length: 100\r\n\r\n{"prompt": ');
      assert.ok(await within(c.closed, 3_000), "closed within 3 s");
      assert.match(c.received(), /^HTTP\/1\.1 408/);
    });

    it("a stream running far longer than the request timeout is not cut by it", async () => {
      const { rest } = await startStream(s.url, LONG);
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(s.scheduler.active, 1, "still generating after 2.5× the request timeout");
      // Ended by a shutdown instead: its error event proves the connection was still open.
      await s.close(0);
      assertEndsWithShutdownError(await rest);
    });
  });

  it("connections beyond --max-connections are closed; a freed place is usable again", async () => {
    const s = await serve({ model, tok, modelName: "tiny", port: 0, maxConnections: 2 });
    try {
      const a = await rawSocket(s.port),
        b = await rawSocket(s.port);
      for (let i = 0; i < 50 && (await new Promise<number>((r) => s.server.getConnections((_, n) => r(n)))) < 2; i++)
        await new Promise((r) => setTimeout(r, 20));
      const c = await rawSocket(s.port);
      c.sock.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.ok(await within(c.closed, 3_000), "the third connection is closed");
      assert.equal(c.received(), "", "and answered nothing");
      a.sock.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const ok = await fetch(`${s.url}/health`, { headers: { connection: "close" } });
      assert.equal(ok.status, 200);
      b.sock.destroy();
    } finally {
      await s.close(0);
    }
  });

  describe("methods and the API key", () => {
    let s: RunningServer;
    before(async () => {
      s = await serve({ model, tok, modelName: "tiny", port: 0, apiKey: "k-123456" });
    });
    after(() => s.close(0));
    const call = (method: string, path: string, key = "k-123456") =>
      fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });

    it("405 with Allow for a wrong method on a known route, 404 for an unknown path", async () => {
      for (const [method, path, allow] of [
        ["POST", "/v1/models", "GET"],
        ["GET", "/v1/chat/completions", "POST"],
        ["PUT", "/v1/completions", "POST"],
        ["DELETE", "/health", "GET"],
      ]) {
        const r = await call(method, path);
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get("allow"), allow);
        const body = (await r.json()) as { error: { message: string; code: number } };
        assert.equal(body.error.code, 405);
        assert.match(body.error.message, new RegExp(`${path} answers ${allow}, not ${method}`));
      }
      assert.equal((await call("GET", "/v1/nope")).status, 404);
      assert.equal((await call("GET", "/v1/models")).status, 200);
      assert.equal((await call("GET", "/health")).status, 200);
    });

    it("a wrong key of any length is 401, never a 500; the right one passes", async () => {
      for (const key of ["", "k", "k-123457", "k-1234567890-much-longer", "k-12345\u00e9"])
        assert.equal((await call("GET", "/v1/models", key)).status, 401, JSON.stringify(key));
      assert.equal((await fetch(`${s.url}/v1/models`)).status, 401, "no Authorization header");
      assert.equal((await call("GET", "/v1/models")).status, 200);
    });
  });

  it("--help says that --api-key shows in ps and names the environment variable; --max-connections is checked", () => {
    const help = runCli("serve", "--help");
    assert.equal(help.status, 0);
    const text = help.stdout.replace(/\s+/g, " ");
    assert.match(text, /--api-key <key> .*SSO_API_KEY.*visible to other users in ps/);
    assert.match(text, /--max-connections <n>/);
    const bad = runCli("serve", "--model", dir, "--max-connections", "0");
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--max-connections/);
  });
});
