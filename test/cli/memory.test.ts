// The memory check of sso synth, train and iterate: over --memory-limit it is one line naming the estimate and what
// would fit, with a non-zero exit before any output exists; --no-memory-check runs anyway. train.recompute trains
// to the very same weights, and a run started without it resumes with it (recomputation is not part of the math).
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { assertOneLineError, makeTinyModel, runCli, tempDir } from "../helpers.js";

describe("memory check", () => {
  const work = tempDir("sso-memory-"),
    model = makeTinyModel(2),
    prompts = join(work, "prompts.jsonl"),
    data = join(work, "data.jsonl");
  writeFileSync(
    prompts,
    Array.from({ length: 4 }, (_, i) => JSON.stringify({ prompt: `Count to ${i + 3}.` })).join("\n"),
  );
  const synth = runCli("synth", "--model", model, "--prompts", prompts, "--out", data, "--max-new-tokens", "8");
  assert.equal(synth.status, 0, synth.stderr);
  const config = (train: object) => {
    const f = join(work, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify({ train: { batchSize: 2, microBatch: 1, lr: 1e-3, ...train } }));
    return f;
  };

  it("sso train over the limit: one line with the numbers and what would fit, before any work", () => {
    const out = join(work, "refused-train");
    const r = runCli("train", "--model", model, "--data", data, "--out", out, "--memory-limit", "0.01");
    assertOneLineError(
      r,
      /^sso: train: estimated peak memory \d+ MB \(weights \d+ MB, grads .*activations .*overhead .*\) exceeds 10 MB \(--memory-limit\); .*recompute.*LoRA r=16.*--no-memory-check\n$/,
    );
    assert.ok(!existsSync(out), "nothing written");
  });

  it("sso synth and sso iterate over the limit refuse the same way; --no-memory-check runs", () => {
    const out = join(work, "refused.jsonl");
    const s = runCli("synth", "--model", model, "--prompts", prompts, "--out", out, "--memory-limit", "0.01");
    assertOneLineError(s, /^sso: synth: estimated peak memory .*kvCache .* exceeds 10 MB .*synth\.batch: 4/);
    assert.ok(!existsSync(out));
    const run = join(work, "refused-run");
    const i = runCli("iterate", "--model", model, "--prompts", prompts, "--out", run, "--memory-limit", "0.01");
    assertOneLineError(i, /^sso: iterate \(synthesis\): estimated peak memory/);
    assert.ok(!existsSync(run));
    const ok = runCli(
      "synth",
      ...["--model", model, "--prompts", prompts, "--out", out, "--max-new-tokens", "4"],
      ...["--memory-limit", "0.01", "--no-memory-check"],
    );
    assert.equal(ok.status, 0, ok.stderr);
  });

  it("train.recompute trains to bitwise the same weights, and resumes a run started without it", () => {
    const plain = join(work, "plain"),
      recompute = join(work, "recompute");
    const a = runCli("train", "--model", model, "--data", data, "--out", plain, "--config", config({ epochs: 2 }));
    assert.equal(a.status, 0, a.stderr);
    const b = runCli(
      "train",
      ...["--model", model, "--data", data, "--out", recompute],
      ...["--config", config({ epochs: 2, recompute: true })],
    );
    assert.equal(b.status, 0, b.stderr);
    const ma = loadModel(join(plain, "model"), getBackend("ref")),
      mb = loadModel(join(recompute, "model"), getBackend("ref"));
    for (const [name, p] of ma.params) assert.deepEqual(mb.params.get(name), p, name);
    // A finished run without recomputation resumes with it (the checkpoint's fingerprint matches), not with other math.
    const resume = (train: object) =>
      runCli("train", "--model", model, "--data", data, "--out", plain, "--resume", "--config", config(train));
    const same = resume({ epochs: 2, recompute: true });
    assert.equal(same.status, 0, same.stderr);
    assertOneLineError(resume({ epochs: 2, lr: 2e-3 }), /checkpoint is from other data or settings/);
  });
});
