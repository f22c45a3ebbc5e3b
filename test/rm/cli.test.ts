// `sso rm train | score | eval` end to end on a tiny model: skipped pairs counted, the saved folder a sequence
// classifier, score resumable to the same bytes, eval's JSON and table, and bad input as one-line errors.
import assert from "node:assert/strict";
import { existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadRewardModel, rewards } from "../../src/rm/model.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { assertOneLineError, makeTinyModel, runCli, tempDir } from "../helpers.js";
import { sampleRecord } from "../sso/helpers.js";

const line = (o: object) => `${JSON.stringify(o)}\n`;

describe("sso rm", () => {
  const lm = makeTinyModel(4, { hidden: 32, layers: 1, intermediate: 64 }),
    dir = tempDir(),
    data = join(dir, "pairs.jsonl"),
    out = join(dir, "run"),
    rm = join(out, "model");
  const good = Array.from({ length: 6 }, (_, i) => ({
    prompt: `What is ${i} + 1?`,
    chosen: `It is ${i + 1}.`,
    rejected: "I cannot say.",
    subset: i % 2 ? "xstest-should-respond" : "hep-go",
  }));
  writeFileSync(
    data,
    [...good, { prompt: "Same?", chosen: "x", rejected: "x" }, { prompt: "Empty?", chosen: "", rejected: "y" }]
      .map(line)
      .join(""),
  );

  it("train: counts skipped pairs and saves a Qwen2ForSequenceClassification folder; a second run needs --resume", () => {
    const r = runCli(
      "rm",
      "train",
      "--model",
      lm,
      "--data",
      data,
      "--out",
      out,
      "--batch-size",
      "4",
      "--save-every",
      "0",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /6 pairs .*skipped 1 identical, 1 with an empty response, 0 too long/);
    const cfg = JSON.parse(readFileSync(join(rm, "config.json"), "utf8"));
    assert.deepEqual([cfg.architectures, cfg.num_labels], [["Qwen2ForSequenceClassification"], 1]);
    assert.equal(readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 2);
    assertOneLineError(
      runCli("rm", "train", "--model", lm, "--data", data, "--out", out),
      /checkpoint exists: pass --resume/,
    );
  });

  it("score: one reward per line in order; a rerun after a torn write continues to the same bytes", () => {
    const input = join(dir, "responses.jsonl"),
      scores = join(dir, "rewards.jsonl");
    writeFileSync(input, good.map((g, i) => line({ id: `r${i}`, prompt: g.prompt, response: g.chosen })).join(""));
    const r = runCli("rm", "score", "--model", rm, "--data", input, "--out", scores);
    assert.equal(r.status, 0, r.stderr);
    const full = readFileSync(scores);
    const rows = full
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((x) => [x.line, x.id]),
      good.map((_, i) => [i + 1, `r${i}`]),
    );
    assert.ok(rows.every((x) => Number.isFinite(x.reward)));
    const firstLine = full.indexOf("\n") + 1;
    truncateSync(scores, firstLine + 5); // one whole line and a torn one
    const again = runCli("rm", "score", "--model", rm, "--data", input, "--out", scores);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /resuming: 1 of 6/);
    assert.ok(readFileSync(scores).equals(full));
  });

  it("eval: writes the JSON report and the table with subsets and RewardBench sections", () => {
    const report = join(dir, "eval.json");
    const r = runCli("rm", "eval", "--model", rm, "--data", data, "--out", report);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(readFileSync(report, "utf8"));
    assert.equal(j.overall.n, 6);
    assert.equal(j.overall.correct + j.overall.ties <= 6, true);
    assert.deepEqual(Object.keys(j.subsets).sort(), ["hep-go", "xstest-should-respond"]);
    assert.deepEqual(Object.keys(j.sections).sort(), ["Reasoning", "Safety"]);
    assert.deepEqual(j.skipped, { identical: 1, empty: 1, tooLong: 0 });
    assert.ok(existsSync(`${report}.md`) && readFileSync(`${report}.md`, "utf8").includes("section: Safety"));
  });

  it("filter keeps exactly the records whose reward margin r(y+) − r(y-) reaches --margin", () => {
    const records = ["A.", "Bb bb.", "Ccc, ccc ccc.", "D", "Eeeee eee?"].map((c, i) => {
      const r = sampleRecord();
      return { ...r, id: `r${i}`, chosen: [{ role: "assistant" as const, content: c }] };
    });
    const input = join(dir, "records.jsonl"),
      kept = join(dir, "kept.jsonl");
    writeFileSync(input, records.map(line).join(""));
    const model = loadRewardModel(rm, "cpu"),
      tok = Tokenizer.fromDir(rm);
    // apply_chat_template(prompt + [assistant y]), read at its last token (transformers' pooling; position.test.ts).
    const seq = (r: (typeof records)[number], y: string) =>
      tok.encode(
        tok.applyChatTemplate([...r.prompt, { role: "assistant", content: y }], { addGenerationPrompt: false }),
      );
    const rw = rewards(
      model,
      records.flatMap((r) => [seq(r, r.chosen[0].content), seq(r, r.rejected[0].content)]),
    );
    const diffs = records.map((_, i) => rw[2 * i] - rw[2 * i + 1]);
    const margin = [...diffs].sort((a, b) => a - b)[2]; // the median: keeps 3 of 5
    const r = runCli("rm", "filter", "--model", rm, "--data", input, "--out", kept, "--margin", String(margin));
    assert.equal(r.status, 0, r.stderr);
    const ids = readFileSync(kept, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id);
    assert.deepEqual(
      ids,
      records.filter((_, i) => diffs[i] >= margin).map((x) => x.id),
    );
    assert.equal(ids.length, 3);
  });

  it("generate --best-of 3 --reward-model writes each line's highest-reward sample with its reward", () => {
    const input = join(dir, "gen.jsonl"),
      output = join(dir, "gen-out.jsonl");
    const messages = good.slice(0, 3).map((g) => [{ role: "user", content: g.prompt }]);
    writeFileSync(input, messages.map((m) => line({ messages: m })).join(""));
    const r = runCli(
      "generate",
      "--model",
      lm,
      "--data",
      input,
      "--out",
      output,
      "--best-of",
      "3",
      "--reward-model",
      rm,
      "--max-new-tokens",
      "8",
      "--temperature",
      "1",
    );
    assert.equal(r.status, 0, r.stderr);
    const rows = readFileSync(output, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const model = loadRewardModel(rm, "cpu"),
      tok = Tokenizer.fromDir(rm);
    rows.forEach((row, i) => {
      assert.equal(row.rewards.length, 3);
      assert.equal(row.reward, Math.max(...row.rewards));
      const conversation = [...messages[i], { role: "assistant", content: row.text }];
      const ids = tok.encode(tok.applyChatTemplate(conversation, { addGenerationPrompt: false }));
      assert.equal(rewards(model, [ids])[0], row.reward);
    });
    assertOneLineError(
      runCli("generate", "--model", lm, "--data", input, "--out", join(dir, "g2.jsonl"), "--best-of", "3"),
      "go together",
    );
  });

  it("bad input is one line naming what to fix", () => {
    assertOneLineError(
      runCli("rm", "score", "--model", lm, "--data", data, "--out", join(dir, "x.jsonl")),
      /is not a reward model \(no score head\): train one with `sso rm train/,
    );
    const bad = join(dir, "bad.jsonl");
    writeFileSync(
      bad,
      line(good[0]) +
        line({
          chosen: [
            { role: "user", content: "A" },
            { role: "assistant", content: "x" },
          ],
          rejected: [
            { role: "user", content: "B" },
            { role: "assistant", content: "y" },
          ],
        }),
    );
    assertOneLineError(
      runCli("rm", "train", "--model", lm, "--data", bad, "--out", join(dir, "o2")),
      `${bad}:2: chosen and rejected must answer the same conversation`,
    );
    writeFileSync(bad, line({ prompt: "p", chosen: 3, rejected: "y" }));
    assertOneLineError(
      runCli("rm", "eval", "--model", rm, "--data", bad, "--out", join(dir, "e.json")),
      `${bad}:1: chosen`,
    );
    assertOneLineError(
      runCli("rm", "train", "--model", lm, "--data", `${data}:-1`, "--out", join(dir, "o3")),
      /weight/,
    );
  });
});
