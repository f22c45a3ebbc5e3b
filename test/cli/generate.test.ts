// `sso generate` through the real CLI: a run killed mid-way (plus a torn last line) and rerun produces exactly the
// file an uninterrupted run produces — complete, in order, no duplicates — and per-line overrides apply; a rerun
// with other arguments is refused rather than mixed into the same file.
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertOneLineError, makeTinyModel, runCliWith, spawnCli, runCli as sso, tempDir } from "../helpers.js";

/** A small random Qwen2-style model with a byte-level tokenizer and ChatML template (big enough to kill mid-run). */
const makeModel = (): string =>
  makeTinyModel(3, {
    hidden_size: 192,
    intermediate_size: 384,
    num_hidden_layers: 3,
    num_attention_heads: 6,
    max_position_embeddings: 512,
  });

const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
};
const lineCount = (path: string): number => (existsSync(path) ? readFileSync(path, "utf8").split("\n").length - 1 : 0);

describe("sso generate", () => {
  const work = tempDir("sso-gen-");
  const model = makeModel();
  const N = 60;
  const input = Array.from({ length: N }, (_, i) =>
    JSON.stringify({
      messages: [{ role: "user", content: `question ${i}?` }],
      ...(i === 5 ? { max_new_tokens: 3, temperature: 0 } : {}),
    }),
  );
  writeFileSync(join(work, "in.jsonl"), `${input.join("\n")}\n`);
  const args = (out: string) => [
    "generate",
    "--model",
    model,
    "--data",
    join(work, "in.jsonl"),
    "--out",
    out,
    "--batch",
    "3",
    "--max-new-tokens",
    "40",
    "--seed",
    "11",
  ];

  it("a killed run, resumed, equals an uninterrupted run line for line", async () => {
    const full = join(work, "full.jsonl"),
      part = join(work, "part.jsonl");
    const r = sso(...args(full));
    assert.equal(r.status, 0, r.stderr);
    const fullText = readFileSync(full, "utf8");
    assert.equal(lineCount(full), N);

    const child = spawnCli(args(part));
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
    const rows = readFileSync(join(work, "full.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((r) => r.line),
      Array.from({ length: N }, (_, i) => i + 1),
    );
    assert.ok(rows[5].n_tokens <= 3 && rows.some((r) => r.n_tokens > 3));
    assert.ok(
      rows.every((r) => ["eos", "stop", "length"].includes(r.finish_reason) && r.completion_ids.length === r.n_tokens),
    );
  });

  it("a bad input line is a one-line error naming it, before anything is written", () => {
    writeFileSync(
      join(work, "bad.jsonl"),
      '{"messages":[{"role":"user","content":"hi"}]}\n{"messages":[],"top_p":2}\n',
    );
    const r = sso(
      "generate",
      "--model",
      model,
      "--data",
      join(work, "bad.jsonl"),
      "--out",
      join(work, "bad-out.jsonl"),
    );
    assertOneLineError(r, /bad\.jsonl:2: /);
    assert.ok(!existsSync(join(work, "bad-out.jsonl")));
  });

  it("sso chat answers each typed line, honours /reset, and quits on /exit", () => {
    const r = runCliWith(
      { input: "hello\n/reset\nhi again\n/exit\nnever read\n" },
      "chat",
      "--model",
      model,
      "--max-new-tokens",
      "4",
      "--temperature",
      "0",
    );
    assert.equal(r.status, 0, r.stderr);
    const replies = r.stdout
      .split("> ")
      .slice(1, -1)
      .filter((s) => s.trim() !== "");
    assert.equal(replies.length, 2, r.stdout); // one per question; /reset prints nothing; nothing after /exit
  });

  it("refuses to continue or keep an output written with other arguments, naming what differs (OUT.args.json)", () => {
    const small = makeTinyModel(4),
      other = makeTinyModel(5);
    const data = join(work, "three.jsonl"),
      data2 = join(work, "three-b.jsonl"),
      out = join(work, "args.jsonl");
    const lines = ["a", "b", "c"].map((q) => JSON.stringify({ messages: [{ role: "user", content: q }] }));
    writeFileSync(data, `${lines.join("\n")}\n`);
    writeFileSync(
      data2,
      `${[...lines.slice(0, 2), JSON.stringify({ messages: [{ role: "user", content: "d" }] })].join("\n")}\n`,
    );
    const base = (o: string, ...extra: string[]) => [
      "generate",
      "--model",
      small,
      "--data",
      data,
      "--out",
      o,
      "--max-new-tokens",
      "4",
      "--seed",
      "1",
      ...extra,
    ];
    const first = sso(...base(out));
    assert.equal(first.status, 0, first.stderr);
    const text = readFileSync(out, "utf8");
    assert.ok(existsSync(`${out}.args.json`));
    const again = sso(...base(out));
    assert.equal(again.status, 0, again.stderr); // same arguments: a finished file is kept as it is
    assert.equal(readFileSync(out, "utf8"), text);
    for (const [extra, what] of [
      [["--seed", "2"], /seed was 1, now 2/],
      [["--temperature", "0"], /temperature was 0\.7, now 0/],
      [["--max-new-tokens", "5"], /max_new_tokens was 4, now 5/],
      [["--top-p", "1"], /top_p/],
      [["--top-k", "3"], /top_k/],
      [["--stop", "x"], /stop/],
      [["--model", other], /model_hash/],
      [["--data", data2], /data_sha256/],
    ] as const) {
      const r = sso(...base(out, ...extra));
      assertOneLineError(r, what, extra.join(" "));
      assert.match(r.stderr, /args\.jsonl: was written with other arguments .*use another --out/);
      assert.equal(readFileSync(out, "utf8"), text, "a refused run changed the output");
    }
    // A partial output with other arguments is refused too (it would be continued with the new ones).
    writeFileSync(out, `${text.split("\n")[0]}\n`);
    assertOneLineError(sso(...base(out, "--seed", "9")), /seed was 1, now 9/);
    // An output without its sidecar cannot be vouched for.
    rmSync(`${out}.args.json`);
    assertOneLineError(sso(...base(out)), /args\.jsonl\.args\.json does not.*use another --out/);
  });
});
