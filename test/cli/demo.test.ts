// `sso demo` pipeline on a tiny random model (the shipped demo model is tested elsewhere): base evaluation, one
// iteration of each default method, the table, report.html with its charts, demo.json and the aligned model.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/checkpoint.js";
import { packageRoot } from "../../src/util/package-root.js";
import { makeTinyModel } from "../helpers.js";

const CLI = join(packageRoot(), "dist", "src", "cli", "main.js");
const sso = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });

describe("sso demo", () => {
  it("evaluates base and each method, prints the table, writes report.html, demo.json and the aligned model", () => {
    const work = mkdtempSync(join(tmpdir(), "sso-demo-")), model = makeTinyModel(3, { tie_word_embeddings: false });
    const out = join(work, "run");
    const r = sso("demo", "--model", model, "--out", out, "--iterations", "1", "--train-prompts", "8", "--eval-prompts", "6", "--max-new-tokens", "12");
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
