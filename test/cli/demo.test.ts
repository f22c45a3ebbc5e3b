// `sso demo` pipeline on a tiny random model (the shipped demo model is tested elsewhere): base evaluation, one
// iteration of each default method, the table, report.html with its charts, demo.json and the aligned model.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/checkpoint.js";
import { writeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { packageRoot } from "../../src/util/package-root.js";

const CLI = join(packageRoot(), "dist", "src", "cli", "main.js");
const sso = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });

describe("sso demo", () => {
  it("evaluates base and each method, prints the table, writes report.html, demo.json and the aligned model", () => {
    const work = mkdtempSync(join(tmpdir(), "sso-demo-"));
    writeByteLevelTokenizer(join(work, "tok"));
    writeFileSync(join(work, "c.json"), JSON.stringify({
      model_type: "qwen2", vocab_size: Tokenizer.fromDir(join(work, "tok")).vocabSize, hidden_size: 64, intermediate_size: 128,
      num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 4096, tie_word_embeddings: false,
    }));
    assert.equal(sso("init-model", "--config", join(work, "c.json"), "--out", join(work, "m"), "--tokenizer-from", join(work, "tok")).status, 0);
    const out = join(work, "run");
    const r = sso("demo", "--model", join(work, "m"), "--out", out, "--iterations", "1", "--train-prompts", "8", "--eval-prompts", "6", "--max-new-tokens", "12");
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    const header = lines.find((l) => l.startsWith("model "));
    assert.ok(header?.includes("Accuracy") && header.includes("overall") && header.includes("mean chars"), r.stdout);
    for (const name of ["base", "sso", "pbaa"]) assert.ok(lines.some((l) => l.startsWith(`${name} `)), `row ${name}`);
    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.ok(html.includes("<table>") && (html.match(/<svg/g) ?? []).length === 4, "table and four charts");
    const demo = JSON.parse(readFileSync(join(out, "demo.json"), "utf8"));
    assert.deepEqual(demo.runs.map((x: { method: string }) => x.method), ["sso", "pbaa"]);
    assert.equal(demo.runs[0].evals.length, 1);
    assert.ok(existsSync(join(out, "aligned-model", "model.safetensors")));
    loadModel(join(out, "aligned-model"), getBackend("ref"));
  });

  it("a missing demo model is a one-line error saying how to build it", () => {
    const r = sso("demo", "--model", join(tmpdir(), "no-such-model"), "--out", join(tmpdir(), "x"));
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /make-demo-model/);
  });
});
