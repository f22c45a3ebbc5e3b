// The SSO trainer end to end on a tiny random model with records from `sso synth`: training lowers the SSO loss
// and widens avg logp(y+|x) − avg logp(y-|x); a killed run resumed from its checkpoint ends with exactly the
// weights of an uninterrupted run; a diverging run stops with a one-line error and keeps its last good checkpoint;
// metrics carry the spec's names; the config refuses unknown keys.
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { PRESETS, pairsNeeded, ssoObjective } from "../../src/sso/objective.js";
import { SsoRecord } from "../../src/sso/record.js";
import { policyRecordLogps } from "../../src/sso/train.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { readJsonl } from "../../src/util/jsonl.js";
import { assertOneLineError, makeTinyModel, runCli, spawnCli, tempDir } from "../helpers.js";

const sso = runCli;

function setup(): { work: string; model: string; data: string } {
  const work = tempDir("sso-train-"),
    model = makeTinyModel(1);
  writeFileSync(
    join(work, "prompts.jsonl"),
    Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `Name ${i + 2} colours.` })).join("\n"),
  );
  const data = join(work, "data.jsonl");
  const r = sso(
    "synth",
    "--model",
    model,
    "--prompts",
    join(work, "prompts.jsonl"),
    "--out",
    data,
    "--max-new-tokens",
    "16",
    "--seed",
    "4",
  );
  assert.equal(r.status, 0, r.stderr);
  return { work, model, data };
}

const sameWeights = (a: string, b: string): void => {
  const ma = loadModel(a, getBackend("ref")),
    mb = loadModel(b, getBackend("ref"));
  for (const [name, p] of ma.params) assert.deepEqual(mb.params.get(name), p, name);
};

describe("sso train", () => {
  const { work, model, data } = setup();
  const records = readJsonl(data, SsoRecord).map((l) => l.value);
  const trainArgs = (out: string, ...extra: string[]) => [
    "train",
    "--model",
    model,
    "--data",
    data,
    "--out",
    out,
    "--lr",
    "2e-3",
    "--epochs",
    "4",
    "--batch-size",
    "3",
    ...extra,
  ];

  it("lowers the SSO loss and widens avg logp(y+|x) − avg logp(y-|x) on its records", () => {
    assert.ok(records.length >= 8, `only ${records.length} records survived synthesis`);
    const out = join(work, "run");
    const r = sso(...trainArgs(out));
    assert.equal(r.status, 0, r.stderr);
    const tok = Tokenizer.fromDir(model),
      pairs = pairsNeeded(PRESETS.sso);
    const measure = (dir: string) => {
      const logps = policyRecordLogps(loadModel(dir, getBackend("cpu")), tok, records, pairs);
      const gap =
        logps.reduce((s, l) => s + l.x_chosen!.policy / l.x_chosen!.n - l.x_rejected!.policy / l.x_rejected!.n, 0) /
        logps.length;
      return { loss: ssoObjective(logps, PRESETS.sso).loss, gap };
    };
    const before = measure(model),
      after = measure(join(out, "model"));
    assert.ok(after.loss < before.loss, `loss ${before.loss} → ${after.loss}`);
    assert.ok(after.gap > before.gap, `gap ${before.gap} → ${after.gap}`);
  });

  it("writes one metrics line per step with the spec's names", () => {
    const lines = readFileSync(join(work, "run", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 4 * Math.ceil(records.length / 3));
    for (const key of [
      "loss",
      "rewards/chosen",
      "rewards/rejected",
      "rewards/accuracies",
      "rewards/margins",
      "logps/chosen",
      "logps/rejected",
      "sso/W",
      "sso/G",
      "sso/L_pos",
      "sso/L_neg",
      "grad_norm",
      "learning_rate",
      "tokens/s",
    ]) {
      assert.ok(
        lines.every((l) => Number.isFinite(l[key])),
        key,
      );
    }
    assert.deepEqual(
      lines.map((l) => l.step),
      lines.map((_, i) => i + 1),
    );
  });

  it("a killed run resumed with --resume ends with the uninterrupted run's weights, bit for bit", async () => {
    const part = join(work, "part");
    const child = spawnCli([...trainArgs(part), "--config", cfgFile(work, { train: { saveEvery: 2 } })], {
      stdio: "ignore",
    });
    const exited = new Promise((res) => child.on("exit", res));
    const state = join(part, "checkpoint", "trainer_state.json");
    const deadline = Date.now() + 60_000;
    while (!(existsSync(state) && JSON.parse(readFileSync(state, "utf8")).step >= 2)) {
      assert.ok(Date.now() < deadline, "no checkpoint appeared");
      await new Promise((res) => setTimeout(res, 5));
    }
    child.kill("SIGKILL");
    await exited;
    const { step: killedAt, totalSteps } = JSON.parse(readFileSync(state, "utf8"));
    assert.ok(killedAt < 16, `the run finished (step ${killedAt}) before it could be killed`);
    assert.notEqual(sso(...trainArgs(part)).status, 0, "an existing checkpoint without --resume must be refused");
    // As if the kill had come between the checkpoint swap's two renames: the checkpoint is only the one moved aside.
    renameSync(join(part, "checkpoint"), join(part, ".checkpoint.999999999.x.tmp.old"));
    const r = sso(...trainArgs(part, "--resume"), "--config", cfgFile(work, { train: { saveEvery: 2 } }));
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`trained ${totalSteps - killedAt} steps`),
      "resumed from the checkpoint, not from step 0",
    );
    sameWeights(join(work, "run", "model"), join(part, "model"));
    const steps = readFileSync(join(part, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    assert.deepEqual(
      steps,
      steps.map((_, i) => i + 1),
      "metrics have each step once",
    );
  });

  it("a run that diverges stops with one line naming the step and keeps its last good checkpoint", () => {
    const out = join(work, "diverge");
    const r = sso(
      "train",
      "--model",
      model,
      "--data",
      data,
      "--out",
      out,
      "--lr",
      "1e30",
      "--batch-size",
      "3",
      "--epochs",
      "2",
      "--config",
      cfgFile(work, { train: { saveEvery: 1, maxGradNorm: 0, warmupRatio: 0 } }),
    );
    assertOneLineError(r, /step \d+: non-finite .*last good checkpoint \(step \d+\)/);
    const saved = loadModel(join(out, "checkpoint", "model"), getBackend("ref"));
    for (const p of saved.params.values()) assert.ok(p.every(Number.isFinite));
  });

  it("the config refuses unknown keys by name, and sso config shows the effective values", () => {
    const bad = sso(
      "train",
      "--model",
      model,
      "--data",
      data,
      "--out",
      join(work, "x"),
      "--config",
      cfgFile(work, { train: { lrr: 1 } }),
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /train\.lrr: unknown key/);
    const shown = JSON.parse(
      sso("config", "--json", "--config", cfgFile(work, { train: { lr: 0.01, objective: { preset: "pbaa" } } })).stdout,
    );
    assert.equal(shown.train.lr, 0.01);
    assert.equal(shown.train.objective.preset, "pbaa");
    assert.equal(shown.train.beta2, 0.95);
  });
});

let cfgCount = 0;
function cfgFile(work: string, value: unknown): string {
  const path = join(work, `cfg${cfgCount++}.json`);
  writeFileSync(path, JSON.stringify(value));
  return path;
}
