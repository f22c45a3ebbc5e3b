// Reliability of the judged evaluation against a fake judge on 127.0.0.1 (issue #30, items 8 and 13): unparsed
// judgments are asked again on a rerun (or kept with --keep-unparsed), a run where no item got a verdict exits 1
// with one line after writing its report; credentials in --judge-url are sent as Basic authorization and never
// printed, key-like query values are redacted in every message, and a request that cannot be built is not retried.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { judgeApiKey } from "../../src/eval/client.js";
import { Http } from "../../src/remote/http.js";
import { packageRoot } from "../../src/util/package-root.js";
import { redactText, redactUrl, splitCredentials } from "../../src/util/redact.js";
import { assertOneLineError, runCli, spawnCli, tempDir } from "../helpers.js";

interface FakeJudge {
  url: string;
  server: Server;
  /** Requests received, with their headers. */
  seen: IncomingHttpHeaders[];
  /** What the judge replies from now on. */
  reply: string;
  /** An HTTP status to answer with instead of a reply (0 = reply). */
  status: number;
}

async function fakeJudge(reply: string): Promise<FakeJudge> {
  const fake = { seen: [], reply, status: 0 } as unknown as FakeJudge;
  fake.server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      fake.seen.push(req.headers);
      if (fake.status) {
        res.writeHead(fake.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `refused ${req.url}` } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { content: fake.reply } }] }));
    });
  });
  await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/v1`;
  return fake;
}

/** `sso ARGS…` without blocking this process (the fake judge answers from it); killed after 60 s. */
function runAsync(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawnCli(args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "",
      stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const work = tempDir("sso-rel-eval-");
const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

function answerFiles(): { mine: string; base: string } {
  const mine = join(work, "mine.jsonl"),
    base = join(work, "base.jsonl");
  const qs = ["Name a red fruit.", "What is 2 + 3?"];
  writeFileSync(mine, qs.map((q, i) => `${JSON.stringify({ instruction: q, output: ["Apple.", "5"][i] })}\n`).join(""));
  writeFileSync(base, qs.map((q) => `${JSON.stringify({ instruction: q, output: "Not sure." })}\n`).join(""));
  return { mine, base };
}

describe("eval pairwise: unparsed judgments (#30 item 8)", () => {
  it("exits 1 with one line when nothing could be judged, and a rerun asks the unparsed ones again", async () => {
    const fake = await fakeJudge("Both are fine, I cannot decide.");
    servers.push(fake.server);
    const { mine, base } = answerFiles();
    const out = join(work, "p.json");
    const args = ["eval", "pairwise", "--answers", mine, "--baseline", base, "--out", out];
    const judge = ["--judge-url", fake.url, "--judge-model", "j"];

    const r1 = await runAsync([...args, ...judge]);
    assert.equal(r1.status, 1, `no verdict at all must fail; stderr: ${r1.stderr}`);
    const lines = r1.stderr
      .trim()
      .split("\n")
      .filter((l) => !/^judge\b/.test(l) && l.trim() !== "");
    assert.equal(lines.length, 1, r1.stderr);
    assert.match(lines[0], /^sso: eval pairwise: the judge's reply could not be parsed for any of the 2 items/);
    const report = JSON.parse(readFileSync(out, "utf8"));
    assert.deepEqual([report.summary.judged, report.summary.unparsed], [0, 2], "the report is written first");
    assert.equal(fake.seen.length, 8, "2 items × 2 orders × (ask + one retry)");

    // --keep-unparsed answers them from the cache: no request, still nothing judged.
    const kept = await runAsync([...args, ...judge, "--keep-unparsed"]);
    assert.equal(kept.status, 1, kept.stderr);
    assert.match(kept.stderr, /without --keep-unparsed/);
    assert.equal(fake.seen.length, 8, "--keep-unparsed sends nothing");

    // The judge works now: the rerun asks the four unparsed judgments again and succeeds.
    fake.reply = "Verdict: A";
    const r2 = await runAsync([...args, ...judge]);
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(fake.seen.length, 12, "each unparsed judgment asked once more");
    assert.match(r2.stderr, /4 asked \(4 unparsed before, asked again\), 0 from the cache/);
    assert.match(r2.stdout, /2 items, 2 judged in both orders, 0 unparsed/);

    // Parsed judgments stay cached: a third run sends nothing.
    const r3 = await runAsync([...args, ...judge]);
    assert.equal(r3.status, 0, r3.stderr);
    assert.equal(fake.seen.length, 12);
    assert.match(r3.stderr, /0 asked, 4 from the cache/);
  });

  it("a judge that fails every request exits 1 with one line", async () => {
    const fake = await fakeJudge("x");
    fake.status = 400;
    servers.push(fake.server);
    const { mine, base } = answerFiles();
    const r = await runAsync([
      ...["eval", "pairwise", "--answers", mine, "--baseline", base, "--out", join(work, "f.json")],
      ...["--judge-url", fake.url, "--judge-model", "j"],
    ]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /HTTP 400: refused/);
  });
});

describe("secrets in URLs (#30 item 13)", () => {
  it("redacts passwords, lone tokens and key-like query values, and nothing else", () => {
    assert.equal(redactUrl("http://user:PASS@host:8/v1"), "http://user:***@host:8/v1");
    assert.equal(redactUrl("https://TOKEN@host/v1"), "https://***@host/v1");
    assert.equal(
      redactUrl("https://h/v1?api_key=K1&model=m&token=T2&x-goog-signature=S&password=P#f"),
      "https://h/v1?api_key=***&model=m&token=***&x-goog-signature=***&password=***#f",
    );
    assert.equal(redactUrl("http://127.0.0.1:8000/v1"), "http://127.0.0.1:8000/v1");
    assert.equal(
      redactText('Request cannot be constructed from "http://a:SECRET@h/x?key=K"; also https://b:P2@g'),
      'Request cannot be constructed from "http://a:***@h/x?key=***"; also https://b:***@g',
    );
    assert.deepEqual(splitCredentials("http://us%40er:p%3Ass@h/v1"), {
      url: "http://h/v1",
      user: "us@er",
      password: "p:ss",
    });
    assert.throws(
      () => judgeApiKey("https://api.example.com/v1?token=SECRET", undefined, {}),
      (e: Error) => {
        assert.ok(!e.message.includes("SECRET"), e.message);
        return /OPENAI_API_KEY/.test(e.message);
      },
    );
  });

  it("--judge-url with user:PASS@ is sent as Basic authorization and the password is never printed", async () => {
    const fake = await fakeJudge("Verdict: B");
    servers.push(fake.server);
    const { mine, base } = answerFiles();
    const url = fake.url.replace("http://", "http://alice:PA55w0rd@");
    const args = ["eval", "pairwise", "--answers", mine, "--baseline", base, "--judge-url", url, "--judge-model", "j"];
    // OPENAI_API_KEY is not sent to a judge whose URL carries its own credentials.
    const r = await runAsync([...args, "--out", join(work, "b.json")], { OPENAI_API_KEY: "sk-other" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fake.seen.length, 4);
    const basic = `Basic ${Buffer.from("alice:PA55w0rd").toString("base64")}`;
    for (const h of fake.seen) assert.equal(h.authorization, basic);
    assert.ok(!`${r.stdout}${r.stderr}`.includes("PA55w0rd"), r.stderr);
    assert.match(r.stderr, /judge http:\/\/127\.0\.0\.1:\d+\/v1 j:/, "the judge is named without its credentials");
    assert.ok(!readFileSync(join(work, "b.json"), "utf8").includes("PA55w0rd"), "nor written in the report");

    // A judge that refuses: the error names the URL without the password, after no retry (a 4xx).
    fake.status = 401;
    const e = await runAsync([...args, "--out", join(work, "c.json")]);
    assert.equal(e.status, 1);
    assert.equal(e.stderr.trim().split("\n").length, 1, e.stderr);
    assert.ok(!e.stderr.includes("PA55w0rd"), e.stderr);
    assert.match(e.stderr, /POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: HTTP 401/);
  });

  it("any command's error line has URLs redacted (synth --base-url)", () => {
    const prompts = join(work, "prompts.jsonl");
    writeFileSync(prompts, `${JSON.stringify({ prompt: "hi" })}\n`);
    const r = runCli(
      ...["synth", "--model", join(packageRoot(), "models", "sso-demo"), "--prompts", prompts],
      ...["--out", join(work, "s.jsonl"), "--engine", "openai", "--base-url", "ftp://u:SECRET@h/v1?key=K9"],
      ...["--api-model", "m"],
    );
    assertOneLineError(r, 'got "ftp://u:***@h/v1?key=***"');
    assert.ok(!/SECRET|K9/.test(r.stderr), r.stderr);
  });

  it("a request that cannot be built fails at once, without retries, and without the secret", async () => {
    const fake = await fakeJudge("x");
    servers.push(fake.server);
    const http = new Http(fake.url.replace("/v1", ""), { apiKey: "bad\nkey", retries: 4, backoffMs: 2000 });
    const t0 = performance.now();
    await assert.rejects(http.get("/v1/models"), (e: Error) => {
      assert.doesNotMatch(e.message, /attempts/);
      assert.match(e.message, /^GET http:\/\/127\.0\.0\.1:\d+\/v1\/models: the request cannot be sent/);
      return true;
    });
    assert.ok(performance.now() - t0 < 1500, "no backoff wait");
    assert.equal(fake.seen.length, 0);
    assert.throws(
      () => new Http("http://u:SECRET@h", { apiKey: "k" }),
      (e: Error) => !e.message.includes("SECRET") && /credentials .* and a bearer API key is set too/.test(e.message),
    );
  });
});
