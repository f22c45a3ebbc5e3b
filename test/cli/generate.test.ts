// `sso generate` through the real CLI: a run killed mid-way (plus a torn last line) and rerun produces exactly the
// file an uninterrupted run produces — complete, in order, no duplicates — and per-line overrides apply.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../../src/util/package-root.js";
import { makeTinyModel } from "../helpers.js";

const CLI = join(packageRoot(), "dist", "src", "cli", "main.js");
const sso = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });

/** A small random Qwen2-style model with a byte-level tokenizer and ChatML template (big enough to kill mid-run). */
const makeModel = (): string => makeTinyModel(3, { hidden_size: 192, intermediate_size: 384, num_hidden_layers: 3, num_attention_heads: 6, max_position_embeddings: 512 });

const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
};
const lineCount = (path: string): number => (existsSync(path) ? readFileSync(path, "utf8").split("\n").length - 1 : 0);

describe("sso generate", () => {
  const work = mkdtempSync(join(tmpdir(), "sso-gen-"));
  const model = makeModel();
  const N = 60;
  const input = Array.from({ length: N }, (_, i) => JSON.stringify({ messages: [{ role: "user", content: `question ${i}?` }], ...(i === 5 ? { max_new_tokens: 3, temperature: 0 } : {}) }));
  writeFileSync(join(work, "in.jsonl"), input.join("\n") + "\n");
  const args = (out: string) => ["generate", "--model", model, "--data", join(work, "in.jsonl"), "--out", out, "--batch", "3", "--max-new-tokens", "40", "--seed", "11"];

  it("a killed run, resumed, equals an uninterrupted run line for line", async () => {
    const full = join(work, "full.jsonl"), part = join(work, "part.jsonl");
    const r = sso(...args(full));
    assert.equal(r.status, 0, r.stderr);
    const fullText = readFileSync(full, "utf8");
    assert.equal(lineCount(full), N);

    const child = spawn(process.execPath, [CLI, ...args(part)], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    await waitFor(() => lineCount(part) >= 4, 60_000);
    child.kill("SIGKILL");
    await exited;
    const kept = lineCount(part);
    assert.ok(kept < N, `the run finished (${kept} lines) before it could be killed`);
    appendFileSync(part, '{"line": 999, "text": "torn'); // a write cut short by the crash

    const again = sso(...args(part));
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /resuming: \d+ of 60 lines/);
    assert.equal(readFileSync(part, "utf8"), fullText);
  });

  it("lines are in input order with their line numbers, and per-line overrides apply", () => {
    const rows = readFileSync(join(work, "full.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.line), Array.from({ length: N }, (_, i) => i + 1));
    assert.ok(rows[5].n_tokens <= 3 && rows.some((r) => r.n_tokens > 3));
    assert.ok(rows.every((r) => ["eos", "stop", "length"].includes(r.finish_reason) && r.completion_ids.length === r.n_tokens));
  });

  it("a bad input line is a one-line error naming it, before anything is written", () => {
    writeFileSync(join(work, "bad.jsonl"), '{"messages":[{"role":"user","content":"hi"}]}\n{"messages":[],"top_p":2}\n');
    const r = sso("generate", "--model", model, "--data", join(work, "bad.jsonl"), "--out", join(work, "bad-out.jsonl"));
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /bad\.jsonl:2: /);
    assert.ok(!existsSync(join(work, "bad-out.jsonl")));
  });

  it("sso chat answers each typed line, honours /reset, and quits on /exit", () => {
    const r = spawnSync(process.execPath, [CLI, "chat", "--model", model, "--max-new-tokens", "4", "--temperature", "0"], {
      input: "hello\n/reset\nhi again\n/exit\nnever read\n", encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const replies = r.stdout.split("> ").slice(1, -1).filter((s) => s.trim() !== "");
    assert.equal(replies.length, 2, r.stdout); // one per question; /reset prints nothing; nothing after /exit
  });
});
