// `sso ui`'s server over plain HTTP: only .json/.jsonl files under the runs root are served (.., absolute paths,
// symlinks out and other file types refused), a token is required when set (header, ?token= → cookie) and for
// any address but loopback, a foreign Host is refused without one, and JSONL pages: offset-based, a malformed line
// returned as such, a half-written last line held back — the server keeps answering.
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MetricsLog } from "../../src/train/metrics.js";
import { type RunningUi, startUi } from "../../src/ui/server.js";
import { appendDurable } from "../../src/util/atomic.js";
import { assertOneLineError, runCliWith, tempDir } from "../helpers.js";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET with exactly these headers (fetch would not let a test set Host). */
function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

const root = tempDir("sso-ui-"),
  outside = tempDir("sso-ui-outside-");
const metrics = join(root, "train-run", "metrics.jsonl");
let ui: RunningUi, withToken: RunningUi;

before(async () => {
  mkdirSync(join(root, "train-run"), { recursive: true });
  const log = MetricsLog.open(metrics);
  for (let step = 1; step <= 5; step++) log.append({ step, loss: 1 / step });
  writeFileSync(join(outside, "secret.json"), '{"secret": 1}\n');
  symlinkSync(join(outside, "secret.json"), join(root, "link.json"));
  writeFileSync(join(root, "notes.txt"), "not a run file\n");
  ui = await startUi({ runs: root, port: 0, pollMs: 100 });
  withToken = await startUi({ runs: root, port: 0, token: "s3cret-token" });
});
after(async () => {
  await ui?.close();
  await withToken?.close();
});

describe("sso ui: files", () => {
  test("paths outside the runs root are refused: .., absolute, a symlink out, other file types", async () => {
    const tries = ["../secret.json", "train-run/../../secret.json", `${outside}/secret.json`, "..\\secret.json"];
    for (const p of [...tries.map(encodeURIComponent), "%2e%2e%2Fsecret.json"]) {
      const r = await get(`${ui.url}/api/json?path=${p}`);
      assert.equal(r.status, 403, `${p}: ${r.body}`);
      assert.doesNotMatch(r.body, /"secret"/);
    }
    const link = await get(`${ui.url}/api/json?path=link.json`);
    assert.equal(link.status, 403, link.body);
    assert.match(JSON.parse(link.body).error, /leads outside the runs folder/);
    assert.equal((await get(`${ui.url}/api/json?path=notes.txt`)).status, 403);
    assert.equal((await get(`${ui.url}/api/lines?path=nope.jsonl`)).status, 404);
    assert.equal((await get(`${ui.url}/app.js/../../package.json`)).status, 404);
  });

  test("JSONL pages from byte offsets join up to the whole file", async () => {
    const seen: number[] = [];
    let offset = 0;
    for (let i = 0; i < 10; i++) {
      const page = JSON.parse(
        (await get(`${ui.url}/api/lines?path=train-run/metrics.jsonl&offset=${offset}&limit=2`)).body,
      );
      seen.push(...page.lines.map((l: { value: { step: number } }) => l.value.step));
      if (page.next === offset) break;
      offset = page.next;
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  test("a malformed line is returned as such and a half-written one is held back; the server keeps answering", async () => {
    const before = (await get(`${ui.url}/api/lines?path=train-run/metrics.jsonl`)).body;
    const size = JSON.parse(before).size;
    appendDurable(metrics, '{"step": 6, "loss": \n{"step": 7, "loss": 0.1}\n{"step": 8, "lo');
    const page = JSON.parse((await get(`${ui.url}/api/lines?path=train-run/metrics.jsonl&offset=${size}`)).body);
    assert.equal(page.lines.length, 2);
    assert.match(page.lines[0].error, /^not JSON/);
    assert.equal(page.lines[0].raw, '{"step": 6, "loss": ');
    assert.deepEqual(page.lines[1].value, { step: 7, loss: 0.1 });
    assert.ok(page.next < page.size, "the torn last line is not consumed");
    appendDurable(metrics, 'ss": 0.2}\n');
    const rest = JSON.parse((await get(`${ui.url}/api/lines?path=train-run/metrics.jsonl&offset=${page.next}`)).body);
    assert.deepEqual(
      rest.lines.map((l: { value: unknown }) => l.value),
      [{ step: 8, loss: 0.2 }],
    );
    const runs = await get(`${ui.url}/api/runs`);
    assert.equal(runs.status, 200);
    assert.equal(JSON.parse(runs.body).runs[0].where, "step 8");
  });
});

describe("sso ui: access", () => {
  test("with a token: none or a wrong one is refused; the header, or ?token= once then its cookie, is let in", async () => {
    const tries: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: "s3cret-token" }];
    for (const headers of tries) {
      assert.equal((await get(`${withToken.url}/api/runs`, headers)).status, 401, JSON.stringify(headers));
      assert.equal((await get(`${withToken.url}/`, headers)).status, 401);
    }
    assert.equal((await get(`${withToken.url}/?token=wrong`)).status, 401);
    assert.equal(
      (await get(`${withToken.url}/api/runs?token=s3cret-token`)).status,
      401,
      "?token= only opens the page",
    );
    assert.equal((await get(`${withToken.url}/api/runs`, { authorization: "Bearer s3cret-token" })).status, 200);
    const page = await get(`${withToken.url}/?token=s3cret-token`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers["set-cookie"]).split(";")[0];
    assert.match(cookie, /^sso_ui_token=/);
    assert.equal((await get(`${withToken.url}/api/runs`, { cookie })).status, 200);
    assert.equal((await get(`${withToken.url}/api/runs`, { cookie: "sso_ui_token=wrong" })).status, 401);
  });

  test("without a token a foreign Host is refused (DNS rebinding), loopback names answer", async () => {
    const port = ui.port;
    assert.equal((await get(`${ui.url}/api/runs`, { host: `evil.example:${port}` })).status, 403);
    assert.equal((await get(`${ui.url}/api/runs`, { host: `localhost:${port}` })).status, 200);
    assert.equal((await get(`${ui.url}/api/runs`, { host: `127.0.0.1:${port}` })).status, 200);
  });

  test("sso ui on another address without a token is refused before it listens, in one line", () => {
    const r = runCliWith({ timeout: 30_000 }, "ui", "--runs", root, "--host", "0.0.0.0", "--port", "0");
    assertOneLineError(r, /--host 0\.0\.0\.0: .*token/);
    assertOneLineError(
      runCliWith({ timeout: 30_000 }, "ui", "--runs", join(root, "nope")),
      /--runs .*nope: not a folder/,
    );
  });
});
