// Checks every command makes at load time, before any work or output: a tokenizer whose ids exceed the model's
// vocab_size (generate, chat, score, eval, serve, export), and output paths that cannot be written (--out / --gguf
// of generate, score, eval, export, synth). Each is one line on stderr naming the file or flag, with exit ≠ 0.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkTokenizerFitsModel, maxTokenId, Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { assertOneLineError, makeTinyModel, runCli, runCliWith, tempDir } from "../helpers.js";

/** A tiny model whose tokenizer.json gains an added special token with id = vocab_size (one past the last row). */
function modelWithOversizedTokenizer(): { dir: string; vocab: number } {
  const dir = makeTinyModel(3);
  const vocab = (JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { vocab_size: number }).vocab_size;
  const path = join(dir, "tokenizer.json"),
    tj = JSON.parse(readFileSync(path, "utf8"));
  tj.added_tokens.push({
    id: vocab,
    content: "<|extra|>",
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  writeFileSync(path, JSON.stringify(tj));
  return { dir, vocab };
}

describe("a tokenizer with ids beyond the model's vocab_size", () => {
  const { dir, vocab } = modelWithOversizedTokenizer();
  const work = tempDir("sso-load-checks-");
  const chat = join(work, "chat.jsonl");
  writeFileSync(chat, `${JSON.stringify({ messages: [{ role: "user", content: "hi" }] })}\n`);
  const score = join(work, "score.jsonl");
  writeFileSync(score, `${JSON.stringify({ messages: [{ role: "user", content: "hi" }], response: "yo" })}\n`);
  const detail = `${join(dir, "tokenizer.json").replace(/[.]/g, "\\.")}: token id ${vocab} \\("<\\|extra\\|>"\\) does not fit the model: .*config\\.json has vocab_size ${vocab}`;
  const message = new RegExp(`^sso: ${detail}`);

  it("checkTokenizerFitsModel counts added tokens and names tokenizer.json, the id and vocab_size", () => {
    const tok = Tokenizer.fromDir(dir);
    assert.equal(tok.vocabSize, vocab + 1);
    assert.equal(maxTokenId(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"))), vocab);
    assert.throws(() => checkTokenizerFitsModel(tok, vocab), new RegExp(detail));
    assert.throws(
      () => checkTokenizerFitsModel(dir, vocab),
      new RegExp(`tokenizer\\.json: token id ${vocab} does not fit.*vocab_size ${vocab}`),
    );
    checkTokenizerFitsModel(tok, vocab + 1); // exactly fitting
    checkTokenizerFitsModel(dir, vocab + 64); // a model padded beyond the tokenizer is fine
  });

  it("generate, score, eval, chat and export refuse it at load time, writing nothing", () => {
    const runs: [string, string[], string][] = [
      [
        "generate",
        ["generate", "--model", dir, "--data", chat, "--out", join(work, "gen.jsonl")],
        join(work, "gen.jsonl"),
      ],
      [
        "score",
        ["score", "--model", dir, "--data", score, "--out", join(work, "score-out.jsonl")],
        join(work, "score-out.jsonl"),
      ],
      [
        "eval",
        ["eval", "--model", dir, "--world", "--n", "2", "--max-new-tokens", "2", "--out", join(work, "eval.json")],
        join(work, "eval.json"),
      ],
      ["export", ["export", "--model", dir, "--gguf", join(work, "m.gguf")], join(work, "m.gguf")],
    ];
    for (const [label, args, out] of runs) {
      const r = runCli(...args);
      if (label === "export")
        assertOneLineError(
          r,
          new RegExp(`tokenizer\\.json: token id ${vocab} does not fit.*vocab_size ${vocab}`),
          label,
        );
      else assertOneLineError(r, message, label);
      assert.ok(!existsSync(out), `${label} left ${out}`);
    }
    assertOneLineError(runCliWith({ input: "hi\n/exit\n" }, "chat", "--model", dir), message, "chat");
    assert.deepEqual(readdirSync(work).sort(), ["chat.jsonl", "score.jsonl"]);
  });

  it("serve refuses to start (instead of answering every request with 500)", () => {
    const r = runCliWith({ timeout: 60_000 }, "serve", "--model", dir, "--port", "0");
    assertOneLineError(r, message, "serve");
  });
});

describe("output paths are checked before any work", () => {
  const model = makeTinyModel(3);
  const work = tempDir("sso-out-checks-");
  const chat = join(work, "chat.jsonl");
  writeFileSync(chat, `${JSON.stringify({ messages: [{ role: "user", content: "hi" }] })}\n`);
  const score = join(work, "score.jsonl");
  writeFileSync(score, `${JSON.stringify({ messages: [{ role: "user", content: "hi" }], response: "yo" })}\n`);
  const prompts = join(work, "prompts.jsonl");
  writeFileSync(prompts, `${JSON.stringify({ prompt: "hi" })}\n`);
  const missing = join(work, "no-such-folder");
  const folder = join(work, "a-folder");
  mkdirSync(folder);

  it("a missing parent folder or a folder given as the file: one line naming the flag and path", () => {
    const commands: [string, (out: string) => string[], string][] = [
      ["generate", (o) => ["generate", "--model", model, "--data", chat, "--out", o, "--max-new-tokens", "2"], "--out"],
      ["score", (o) => ["score", "--model", model, "--data", score, "--out", o], "--out"],
      ["eval", (o) => ["eval", "--model", model, "--world", "--n", "2", "--max-new-tokens", "2", "--out", o], "--out"],
      ["export", (o) => ["export", "--model", model, "--gguf", o], "--gguf"],
      ["synth", (o) => ["synth", "--model", model, "--prompts", prompts, "--out", o, "--max-new-tokens", "2"], "--out"],
    ];
    for (const [label, args, flag] of commands) {
      const out = join(missing, "out.file");
      const r = runCli(...args(out));
      assertOneLineError(r, `sso: ${flag} ${out}: the folder ${missing} does not exist`, label);
      assert.doesNotMatch(r.stdout, /overall|exact match/, `${label} did the work first`);
      assertOneLineError(runCli(...args(folder)), `sso: ${flag} ${folder}: is a folder`, `${label} (folder)`);
    }
    assert.deepEqual(readdirSync(folder), []);
    assert.ok(!existsSync(missing));
  });
});
