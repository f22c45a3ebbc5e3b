// The public API: the built package entry (package.json `exports`, imported by the package's own name) exports
// what the README promises, and the README's library example runs as written against the shipped demo model.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../src/util/package-root.js";
import { promptLines, trainPrompts } from "../src/world/world.js";
import { tempDir } from "./helpers.js";

const ROOT = packageRoot();

/** The README's code block that follows the library-example marker. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const m = /<!-- library-example[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, "README has a library example");
  return m[1];
}

describe("public API", () => {
  const work = tempDir("sso-api-");

  it("the package entry exports the library: models, tokenizer, score, generate, synth, train, iterate, objective, eval", async () => {
    const api = (await import(String("sso"))) as Record<string, unknown>;
    const names = [
      "loadModel",
      "saveModel",
      "initModel",
      "getBackend",
      "Tokenizer",
      "scoreItems",
      "generate",
      "resolveConfig",
      "synthesize",
      "runSynth",
      "trainSso",
      "runTrain",
      "runIterate",
      "runPairwise",
      "runGrade",
      "runMath",
      "lengthControlled",
      "judgePairs",
      "ssoObjective",
      "evaluateWorld",
      "evaluateExact",
      "resolveModel",
      "resolveDatasetFiles",
      "readPromptRecords",
    ];
    for (const n of names) assert.equal(typeof api[n], "function", n);
    const pairs = "x_chosen x_rejected pos_chosen pos_rejected neg_chosen neg_rejected neg_raw";
    assert.equal((api.PAIR_NAMES as string[]).join(" "), pairs);
  });

  it("the README's library example runs as written", () => {
    mkdirSync(join(work, "node_modules"));
    symlinkSync(ROOT, join(work, "node_modules", "sso"), "dir");
    symlinkSync(join(ROOT, "models"), join(work, "models"), "dir");
    writeFileSync(join(work, "prompts.jsonl"), promptLines(trainPrompts(0, 6)));
    writeFileSync(join(work, "example.mjs"), readmeExample());
    const r = spawnSync(process.execPath, ["example.mjs"], { cwd: work, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^(\d+) records from 6 prompts\nfinal loss \d+\.\d{4}\nlog p = -\d+\.\d{3}\n$/);
  });
});
