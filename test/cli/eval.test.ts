// `sso eval` through the real CLI on a tiny random model: --world answers held-out (or train) world prompts and
// reports every judged feature with a rate in [0, 1]; --data counts exact matches right (references built from the
// model's own greedy answers, so which lines match is known); bad input is a one-line error naming its line.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { WORLD_FEATURES } from "../../src/world/check.js";
import { normalizeAnswer } from "../../src/world/evaluate.js";
import { lookup, splitOf } from "../../src/world/world.js";
import { assertOneLineError, makeTinyModel, runCli, tempDir } from "../helpers.js";

const sso = runCli;
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

/** A tiny random model with untied embeddings: a tied one greedily echoes its last prompt token ("\n") forever. */
const makeModel = (): string => makeTinyModel(3, { tie_word_embeddings: false, max_position_embeddings: 1024 });

describe("sso eval", () => {
  const work = tempDir("sso-eval-");
  const model = makeModel();

  it("--world reports every judged feature with a rate in [0, 1], overall and mean length, on held-out prompts", () => {
    const out = join(work, "world.json");
    const r = sso("eval", "--model", model, "--world", "--n", "24", "--max-new-tokens", "8", "--out", out);
    assert.equal(r.status, 0, r.stderr);
    for (const f of WORLD_FEATURES)
      assert.match(r.stdout, new RegExp(`^${f}\\s+(0|1)\\.\\d{3}\\s+\\d+$`, "m"), r.stdout);
    assert.match(r.stdout, /^overall\s+(0|1)\.\d{3}\s+24$/m);
    assert.match(r.stdout, /^mean length: [\d.]+ chars, [\d.]+ tokens$/m);
    const report = readJson(out);
    assert.equal(report.mode, "world");
    assert.equal(report.results.length, 24);
    for (const f of WORLD_FEATURES) {
      const { rate, n } = report.summary.features[f];
      assert.ok(n > 0 && rate >= 0 && rate <= 1, `${f}: ${rate} over ${n}`);
    }
    assert.ok(
      report.results.every(
        (x: { prompt: string; n_tokens: number }) => splitOf(lookup(x.prompt)!.item) === "heldout" && x.n_tokens <= 8,
      ),
    );
  });

  it("--world --split train evaluates train prompts only", () => {
    const out = join(work, "train.json");
    const r = sso(
      "eval",
      "--model",
      model,
      "--world",
      "--split",
      "train",
      "--n",
      "6",
      "--seed",
      "3",
      "--max-new-tokens",
      "4",
      "--out",
      out,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readJson(out).results.every((x: { prompt: string }) => splitOf(lookup(x.prompt)!.item) === "train"));
  });

  it("--data counts exact matches after trimming and case-folding", () => {
    const prompts = ["Say hi.", "What is 2 + 2?", "Name a colour.", "Hello?"];
    writeFileSync(
      join(work, "probe.jsonl"),
      `${prompts.map((p) => JSON.stringify({ prompt: p, answer: "?" })).join("\n")}\n`,
    );
    const probe = sso(
      "eval",
      "--model",
      model,
      "--data",
      join(work, "probe.jsonl"),
      "--max-new-tokens",
      "6",
      "--out",
      join(work, "probe.json"),
    );
    assert.equal(probe.status, 0, probe.stderr);
    const got: string[] = readJson(join(work, "probe.json")).results.map((x: { response: string }) => x.response);
    assert.equal(
      new Set(got.map(normalizeAnswer).filter((g) => g !== "")).size,
      4,
      `answers not distinct: ${JSON.stringify(got)}`,
    );
    const lines = [
      { prompt: prompts[0], answer: `  ${got[0]}\n` }, // match (whitespace trimmed)
      { messages: [{ role: "user", content: prompts[1] }], answer: ["not it", got[1].toUpperCase()] }, // match (second reference)
      { prompt: prompts[2], answer: `${got[2]}x` }, // no match
      {
        messages: [
          { role: "user", content: prompts[3] },
          { role: "assistant", content: got[3] },
        ],
      }, // match (SFT line)
    ];
    writeFileSync(join(work, "data.jsonl"), `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const out = join(work, "data.json");
    const r = sso("eval", "--model", model, "--data", join(work, "data.jsonl"), "--max-new-tokens", "6", "--out", out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^exact match: 3 \/ 4 = 0\.750/m);
    const report = readJson(out);
    assert.deepEqual(
      report.results.map((x: { correct: boolean }) => x.correct),
      [true, true, false, true],
    );
    assert.deepEqual(
      report.results.map((x: { line: number }) => x.line),
      [1, 2, 3, 4],
    );
  });

  it("a bad --data line is a one-line error naming it, and no report is written", () => {
    writeFileSync(join(work, "bad.jsonl"), '{"prompt": "hi", "answer": "x"}\n{"prompt": "no answer here"}\n');
    const out = join(work, "bad.json");
    const r = sso("eval", "--model", model, "--data", join(work, "bad.jsonl"), "--out", out);
    assertOneLineError(r, /bad\.jsonl:2: answer: missing "answer"/);
    assert.ok(!existsSync(out));
  });

  it("flag mistakes are one-line errors", () => {
    for (const [args, message] of [
      [["--world", "--data", "x.jsonl"], /exactly one of --world or --data/],
      [[], /exactly one of --world or --data/],
      [["--world", "--split", "test"], /--split must be heldout or train/],
      [["--data", "x.jsonl", "--n", "3"], /apply to --world only/],
    ] as const) {
      const r = sso("eval", "--model", model, ...args);
      assertOneLineError(r, message);
    }
  });
});
