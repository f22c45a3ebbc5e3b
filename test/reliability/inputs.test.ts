// Bad inputs give one line naming the file, line or key, and runs neither stop nor lie (issue 30, items 7, 10–12),
// through the real CLI: over-long generate lines and chat messages, init-model's --tokenizer-from and huge sizes,
// strict UTF-8 / BOM / unknown keys and roles in JSONL, and the wording of errors users read.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertOneLineError, makeTinyModel, runCli, runCliWith, tempDir } from "../helpers.js";
import { sampleRecord } from "../sso/helpers.js";

const sso = runCli;
const CONTEXT = 64;
const model = makeTinyModel(5, { max_position_embeddings: CONTEXT });
const chat = (content: string, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ messages: [{ role: "user", content }], ...extra })}\n`;
const isRoot = process.getuid?.() === 0;

function file(name: string, text: string | Uint8Array): string {
  const path = join(tempDir("sso-inputs-"), name);
  writeFileSync(path, text);
  return path;
}

const generate = (data: string, out: string, ...more: string[]) =>
  sso(
    "generate",
    "--model",
    model,
    "--data",
    data,
    "--out",
    out,
    "--max-new-tokens",
    "4",
    "--temperature",
    "0",
    ...more,
  );

describe("an over-long input neither aborts the run nor ends the session (item 7)", () => {
  it("generate skips a line too long for the context, counts it as too_long naming FILE:LINE, writes the rest", () => {
    const data = file("in.jsonl", chat("hi") + chat("x".repeat(3 * CONTEXT)) + chat("yo"));
    const out = join(tempDir(), "out.jsonl");
    const r = generate(data, out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`too_long.*${data}:2`));
    const lines = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number });
    assert.deepEqual(
      lines.map((l) => l.line),
      [1, 3],
    );
    // A rerun resumes to the same file (the same lines are skipped), not "has more lines than the input".
    const again = generate(data, out);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(out, "utf8").trim().split("\n").length, 2);
  });

  it("chat rejects an over-long message with one line and carries on with the next", () => {
    const r = runCliWith(
      { input: `hi\n${"x".repeat(3 * CONTEXT)}\nhello\n/exit\n`, timeout: 120_000 },
      "chat",
      "--model",
      model,
      "--max-new-tokens",
      "3",
      "--temperature",
      "0",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /message not sent: .*max_position_embeddings 64/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    // The greeting, then a prompt per line read: four prompts means the session outlived the long message.
    assert.equal(r.stdout.split("> ").length - 1, 4, r.stdout);
  });
});

describe("init-model checks its inputs before any work (item 10)", () => {
  const config = join(model, "config.json");
  const huge = (patch: Record<string, unknown>) =>
    file("config.json", JSON.stringify({ ...JSON.parse(readFileSync(config, "utf8")), ...patch }));

  it("--tokenizer-from a missing folder is a one-line error naming it, and nothing is written", () => {
    const out = join(tempDir(), "m");
    assertOneLineError(sso("init-model", "--config", config, "--out", out, "--tokenizer-from", "nope"), "nope");
    assert.ok(!existsSync(out));
    const empty = tempDir();
    assertOneLineError(
      sso("init-model", "--config", config, "--out", out, "--tokenizer-from", empty),
      `${empty}: holds no tokenizer.json`,
    );
  });

  it("huge sizes are refused by the memory check naming the config key, not 'Invalid typed array length'", () => {
    const out = join(tempDir(), "m");
    const cases: [Record<string, unknown>, string][] = [
      [{ vocab_size: 2_000_000_000 }, "vocab_size 2000000000"],
      [{ num_hidden_layers: 10_000_000 }, "num_hidden_layers 10000000"],
    ];
    for (const [patch, key] of cases) {
      const r = sso("init-model", "--config", huge(patch), "--out", out, "--tokenizer-from", model);
      assertOneLineError(r, key);
      assert.doesNotMatch(r.stderr, /typed array/);
      assert.ok(!existsSync(out));
    }
  });
});

describe("JSONL inputs: strict UTF-8, a BOM accepted, unknown keys and roles named (item 11)", () => {
  const score = (data: string) => sso("score", "--model", model, "--data", data, "--out", join(tempDir(), "o.jsonl"));
  const scoreLine = (content: string) =>
    `${JSON.stringify({ messages: [{ role: "user", content }], response: "ok" })}\n`;

  it("bytes that are not UTF-8 are an error naming FILE:LINE (not replaced by U+FFFD)", () => {
    const bad = Buffer.concat([
      Buffer.from(scoreLine("fine")),
      Buffer.from('{"messages":[{"role":"user","content":"h'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}],"response":"x"}\n'),
    ]);
    const data = file("bad.jsonl", bad);
    assertOneLineError(score(data), `${data}:2: not valid UTF-8`);
    assertOneLineError(generate(data, join(tempDir(), "o.jsonl")), `${data}:2: not valid UTF-8`);
  });

  it("a UTF-8 byte-order mark at the start is accepted", () => {
    const data = file("bom.jsonl", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(scoreLine("hi"))]));
    const r = score(data);
    assert.equal(r.status, 0, r.stderr);
  });

  it("an unknown key (tempreature) or role (wizard) in generate / score lines names FILE:LINE and the key", () => {
    const typo = file("typo.jsonl", chat("hi") + chat("hi", { tempreature: 0.5 }));
    assertOneLineError(generate(typo, join(tempDir(), "o.jsonl")), `${typo}:2: tempreature: unknown key`);
    const wizard = `${JSON.stringify({ messages: [{ role: "wizard", content: "hi" }] })}\n`;
    const g = file("wizard.jsonl", wizard);
    assertOneLineError(generate(g, join(tempDir(), "o.jsonl")), new RegExp(`${g}:1: messages\\.0\\.role: .*wizard`));
    const k = file("typo-score.jsonl", scoreLine("hi").replace("}\n", ',"tempreature":1}\n'));
    assertOneLineError(score(k), `${k}:1: tempreature: unknown key`);
    const s = file("wizard-score.jsonl", scoreLine("hi").replace('"user"', '"wizard"'));
    assertOneLineError(score(s), new RegExp(`${s}:1: messages\\.0\\.role: .*wizard`));
  });
});

describe("errors users read say what and where, in words (item 12)", () => {
  it("an over-long sequence is named by its line (1-based), not as 'sequence 0'", () => {
    const ids = Array.from({ length: CONTEXT + 10 }, (_, i) => (i % 50) + 1);
    const data = file("long.jsonl", `${JSON.stringify({ prompt_ids: ids, response_ids: [1] })}\n`);
    const r = sso("score", "--model", model, "--data", data, "--out", join(tempDir(), "o.jsonl"));
    assertOneLineError(r, `${data}:1: ${CONTEXT + 11} tokens exceed max_position_embeddings ${CONTEXT}`);
    assert.doesNotMatch(r.stderr, /sequence 0/);
  });

  it("a broken tokenizer is named, not blamed on the data file's line 1", () => {
    const dir = join(tempDir(), "m");
    mkdirSync(dir);
    for (const f of ["config.json", "model.safetensors", "tokenizer_config.json"])
      writeFileSync(join(dir, f), readFileSync(join(model, f)));
    writeFileSync(join(dir, "tokenizer.json"), "{broken");
    const data = file(
      "in.jsonl",
      `${JSON.stringify({ messages: [{ role: "user", content: "hi" }], response: "x" })}\n`,
    );
    const r = sso("score", "--model", dir, "--data", data, "--out", join(tempDir(), "o.jsonl"));
    assertOneLineError(r, new RegExp(`^sso: ${join(dir, "tokenizer.json")}: invalid JSON`));
  });

  it("train --out at a file, under a file, or in a read-only folder: one line naming the path, reason in words", () => {
    const dir = tempDir(),
      f = join(dir, "file");
    writeFileSync(f, "x");
    const train = (out: string) => sso("train", "--model", model, "--data", join(dir, "none.jsonl"), "--out", out);
    for (const [out, why] of [
      [f, `${f}: is a file, not a folder`],
      [join(f, "run"), "is a file, so no folder can be made under it"],
    ]) {
      const r = train(out);
      assertOneLineError(r, why);
      assert.doesNotMatch(r.stderr, /EEXIST|ENOTDIR|EACCES/);
    }
    if (!isRoot) {
      const ro = join(dir, "ro");
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      assertOneLineError(train(join(ro, "run")), "not writable (permission denied)");
    }
  });

  it("a record named by its id says 'record id', with the file and line", () => {
    // sampleRecord's token counts are not what this tokenizer gives: the check before training names the record.
    const data = file("records.jsonl", `${JSON.stringify(sampleRecord())}\n`);
    const r = sso("train", "--model", model, "--data", data, "--out", join(tempDir(), "run"));
    assertOneLineError(r, `${data}:1 (record id "7"): `);
    assert.match(r.stderr, /tokenises to \d+ response tokens, the record says/);
  });

  it("an empty YAML config is 'FILE: empty config'", () => {
    for (const text of ["", "# only a comment\n"]) {
      const cfg = file("sso.yaml", text);
      assertOneLineError(sso("config", "--config", cfg), new RegExp(`^sso: ${cfg}: empty config$`, "m"));
    }
  });
});
