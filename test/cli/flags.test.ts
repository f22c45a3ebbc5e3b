// Numeric flags of every command are checked before any work, by the same rules (the same zod schemas) as the
// JSONL fields they correspond to: a bad value is one line naming the flag and a non-zero exit. The model and
// input paths given here do not exist, so a flag that slipped through would fail differently (or hang).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Count, flag } from "../../src/cli/flags.js";
import { MaxNewTokens, Temperature, TopK, TopP } from "../../src/sample/sampling.js";
import { assertOneLineError, runCliWith } from "../helpers.js";

const M = ["--model", "/nonexistent/model"];
const IO = [...M, "--data", "/nonexistent/in.jsonl", "--out", "/nonexistent/out.jsonl"];

const cases: [string[], string, string][] = [
  [["generate", ...IO], "--batch", "0"],
  [["generate", ...IO], "--batch", "-1"],
  [["generate", ...IO], "--max-new-tokens", "-5"],
  [["generate", ...IO], "--max-new-tokens", "0"],
  [["generate", ...IO], "--temperature", "-1"],
  [["generate", ...IO], "--top-p", "0"],
  [["generate", ...IO], "--top-p", "5"],
  [["generate", ...IO], "--top-k", "-3"],
  [["generate", ...IO], "--top-k", "1.5"],
  [["generate", ...IO], "--seed", "-1"],
  [["generate", ...IO], "--seed", "abc"],
  [["chat", ...M], "--top-p", "1.01"],
  [["chat", ...M], "--max-new-tokens", "0"],
  [["score", ...IO], "--batch-tokens", "0"],
  [["eval", ...M, "--world"], "--n", "0"],
  [["eval", ...M, "--world"], "--batch", "0"],
  [["eval", ...M, "--world"], "--max-new-tokens", "0"],
  [["init-model", "--config", "/nonexistent/c.json", "--out", "/nonexistent/m"], "--seed", "-2"],
  [["serve", ...M], "--port", "70000"],
  [["serve", ...M], "--port", "-1"],
  [["serve", ...M], "--max-batch", "0"],
  [["serve", ...M], "--max-queue", "0"],
  [["serve", ...M], "--grace", "-1"],
  [["synth", ...M, "--prompts", "/nonexistent/p.jsonl", "--out", "/nonexistent/o.jsonl"], "--batch", "0"],
  [["synth", ...M, "--prompts", "/nonexistent/p.jsonl", "--out", "/nonexistent/o.jsonl"], "--max-new-tokens", "0"],
  [["synth", ...M, "--prompts", "/nonexistent/p.jsonl", "--out", "/nonexistent/o.jsonl"], "--iteration", "-1"],
  [["synth", ...M, "--prompts", "/nonexistent/p.jsonl", "--out", "/nonexistent/o.jsonl"], "--concurrency", "0"],
  [["synth", ...M, "--prompts", "/nonexistent/p.jsonl", "--out", "/nonexistent/o.jsonl"], "--timeout", "0"],
  [["train", ...M, "--data", "/nonexistent/d.jsonl", "--out", "/nonexistent/t"], "--lr", "0"],
  [["train", ...M, "--data", "/nonexistent/d.jsonl", "--out", "/nonexistent/t"], "--epochs", "0"],
  [["train", ...M, "--data", "/nonexistent/d.jsonl", "--out", "/nonexistent/t"], "--batch-size", "0"],
  [["iterate", ...M, "--prompts", "/nonexistent/p.jsonl", "--out", "/nonexistent/i"], "--iterations", "0"],
  [["demo", ...M, "--out", "/nonexistent/demo"], "--iterations", "0"],
  [["demo", ...M, "--out", "/nonexistent/demo"], "--train-prompts", "0"],
  [["demo", ...M, "--out", "/nonexistent/demo"], "--eval-prompts", "0"],
  [["demo", ...M, "--out", "/nonexistent/demo"], "--lr", "-1"],
  [["demo", ...M, "--out", "/nonexistent/demo"], "--beta", "0"],
  [["demo", ...M, "--out", "/nonexistent/demo"], "--max-new-tokens", "0"],
];

describe("numeric flags", () => {
  it("a bad value of any command's numeric flag is one line naming the flag, before any work", () => {
    for (const [args, name, value] of cases) {
      const r = runCliWith({ timeout: 30_000 }, ...args, name, value);
      assertOneLineError(
        r,
        new RegExp(`^sso: ${name} must be .*got "${value.replace(/[.]/g, "\\.")}"`),
        `${args[0]} ${name} ${value}`,
      );
    }
  });

  it("flags parse with the very schemas of the JSONL fields", () => {
    assert.equal(flag("--top-p", TopP)("1"), 1);
    assert.equal(flag("--temperature", Temperature)("0"), 0);
    assert.equal(flag("--top-k", TopK)("0"), 0);
    assert.throws(() => flag("--max-new-tokens", MaxNewTokens)(""), /--max-new-tokens must be an integer ≥ 1/);
    assert.throws(() => flag("--batch", Count)("Infinity"), /--batch must be/);
    for (const [schema, ok, bad] of [
      [TopP, 0.5, 0],
      [Temperature, 0, -0.1],
      [TopK, 3, -1],
      [MaxNewTokens, 1, 0],
    ] as const) {
      assert.ok(schema.safeParse(ok).success && !schema.safeParse(bad).success);
    }
  });
});
