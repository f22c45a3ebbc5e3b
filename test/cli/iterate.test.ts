// `sso iterate` end to end on a tiny random model: two iterations produce per-iteration records, metrics and
// models; a run killed in its second iteration and rerun ends with the uninterrupted run's final weights; the
// initial-model reference option rescored every reference column.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { makeTinyModel, runCli, spawnCli, tempDir } from "../helpers.js";

const sso = runCli;

describe("sso iterate", () => {
  const work = tempDir("sso-iter-");
  const model = makeTinyModel(2);
  writeFileSync(
    join(work, "prompts.jsonl"),
    Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `List ${i + 2} fruits.` })).join("\n"),
  );
  const config = (extra: object = {}) => {
    const path = join(work, `cfg-${Object.keys(extra).length}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        synth: { batch: 4, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 16 } },
        train: { lr: 2e-3, batchSize: 4, saveEvery: 1 },
        iterate: { iterations: 2, ...extra },
      }),
    );
    return path;
  };
  const args = (out: string, cfg = config()) => [
    "iterate",
    "--model",
    model,
    "--prompts",
    join(work, "prompts.jsonl"),
    "--out",
    out,
    "--config",
    cfg,
  ];
  const weights = (dir: string) => loadModel(dir, getBackend("ref")).params;

  it("runs every iteration: records, metrics, a model per iteration and a summary", () => {
    const r = sso(...args(join(work, "full")));
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(work, "full", "summary.json"), "utf8"));
    assert.equal(summary.iterations.length, 2);
    for (const k of [1, 2]) {
      for (const f of ["data.jsonl", "train/metrics.jsonl", "train/model/model.safetensors", "summary.json"])
        assert.ok(existsSync(join(work, "full", `iter-${k}`, f)), `iter-${k}/${f}`);
    }
    assert.equal(summary.final_model, join(work, "full", "iter-2", "train", "model"));
    // Iteration 2 starts from iteration 1's model, not from the initial one.
    assert.notDeepEqual(weights(join(work, "full", "iter-1", "train", "model")), weights(model));
    assert.equal(summary.iterations[1].policy, join(work, "full", "iter-1", "train", "model"));
  });

  it("iterate.eval evaluates each iteration (world vs the initial model, math) and a finished run accepts it", () => {
    const problems = join(work, "math.jsonl");
    writeFileSync(problems, `${JSON.stringify({ question: "What is 2 + 2?", answer: "#### 4" })}\n`);
    const cfg = join(work, "cfg-eval.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        ...JSON.parse(readFileSync(config(), "utf8")),
        iterate: {
          iterations: 2,
          eval: { world: { n: 6, maxNewTokens: 8 }, math: { data: "math.jsonl", format: "gsm8k", maxNewTokens: 8 } },
        },
      }),
    );
    const r = sso(...args(join(work, "full"), cfg)); // the run of the first test, now with an evaluation
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resuming/);
    for (const k of [1, 2])
      assert.match(
        r.stderr,
        new RegExp(
          `^iteration ${k} eval: world overall [\\d.]+%, vs initial: win rate [\\d.]+ \\[[\\d.]+, [\\d.]+\\], LC [\\d.]+ \\[.*; math accuracy [\\d.]+ \\[.*\\(\\d/1\\)$`,
          "m",
        ),
      );
    const summary = JSON.parse(readFileSync(join(work, "full", "summary.json"), "utf8"));
    for (const it of summary.iterations) {
      const v = it.eval.world.vs_initial;
      assert.equal(v.n, 6);
      assert.equal(v.wins + v.losses + v.ties, v.judged);
      assert.equal(v.win_rate, (v.wins + v.ties / 2) / v.judged);
      assert.equal(it.eval.math.n, 1);
    }
    assert.ok(existsSync(join(work, "full", "eval-initial.json")));
    assert.deepEqual(
      JSON.parse(readFileSync(join(work, "full", "iter-1", "eval.json"), "utf8")).value,
      summary.iterations[0].eval,
    );
    // A changed evaluation is recomputed (initial answers too), never mixed with the cached one.
    const cfg8 = join(work, "cfg-eval8.json"),
      written = JSON.parse(readFileSync(cfg, "utf8"));
    writeFileSync(
      cfg8,
      JSON.stringify({ ...written, iterate: { iterations: 2, eval: { world: { n: 8, maxNewTokens: 8 } } } }),
    );
    const again = sso(...args(join(work, "full"), cfg8));
    assert.equal(again.status, 0, again.stderr);
    const after = JSON.parse(readFileSync(join(work, "full", "summary.json"), "utf8"));
    for (const it of after.iterations) {
      assert.equal(it.eval.world.vs_initial.n, 8);
      assert.equal(it.eval.math, undefined);
    }
  });

  it("a run killed in its second iteration resumes there and ends with the same final weights", async () => {
    const out = join(work, "killed");
    const child = spawnCli([...args(out)], { stdio: "ignore" });
    const exited = new Promise((res) => child.on("exit", res));
    const marker = join(out, "iter-2", "data.jsonl.progress.json"),
      deadline = Date.now() + 60_000;
    while (!existsSync(marker)) {
      assert.ok(Date.now() < deadline, "iteration 2 never started");
      await new Promise((res) => setTimeout(res, 5));
    }
    child.kill("SIGKILL");
    await exited;
    assert.ok(!existsSync(join(out, "summary.json")), "the run finished before it was killed");
    const r = sso(...args(out));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resuming/);
    assert.deepEqual(
      weights(join(out, "iter-2", "train", "model")),
      weights(join(work, "full", "iter-2", "train", "model")),
    );
  });

  it("with the initial model as reference, iteration 2 trains on records rescored by it", () => {
    const out = join(work, "initial-ref");
    const r = sso(...args(out, config({ reference: "initial" })));
    assert.equal(r.status, 0, r.stderr);
    const own = readFileSync(join(out, "iter-2", "data.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const rescored = readFileSync(join(out, "iter-2", "data.initial-ref.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rescored.length, own.length);
    assert.ok(
      own.every(
        (rec, i) =>
          rec.chosen[0].content === rescored[i].chosen[0].content &&
          rec.ref_chosen_logps !== rescored[i].ref_chosen_logps,
      ),
    );
    const scored = runCli(
      "score",
      "--model",
      model,
      "--data",
      writeScore(out, rescored[0]),
      "--out",
      join(out, "s.jsonl"),
    );
    assert.equal(scored.status, 0, scored.stderr);
    assert.ok(
      Math.abs(JSON.parse(readFileSync(join(out, "s.jsonl"), "utf8")).logp - rescored[0].ref_chosen_logps) < 1e-3,
    );
  });

  describe("--mode v2", () => {
    const v2Config = (objective = "ipo") => {
      const path = join(work, `cfg-v2-${objective}.json`);
      writeFileSync(
        path,
        JSON.stringify({
          ...JSON.parse(readFileSync(config(), "utf8")),
          train: { lr: 2e-3, batchSize: 4, saveEvery: 1, objective: { preset: objective } },
        }),
      );
      return path;
    };
    const records = (file: string) =>
      readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));

    it("trains a generator, then the policy on the generator's pairs rescored by the policy; both models kept", () => {
      const out = join(work, "v2");
      const r = sso(...args(out, v2Config()), "--mode", "v2");
      assert.equal(r.status, 0, r.stderr);
      const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
      for (const k of [1, 2]) {
        const it = summary.iterations[k - 1],
          dir = join(out, `iter-${k}`);
        for (const f of ["generator/data.jsonl", "generator/train/model/model.safetensors", "data.jsonl"])
          assert.ok(existsSync(join(dir, f)), `iter-${k}/${f}`);
        assert.equal(it.generator.model, join(dir, "generator", "train", "model"));
        assert.equal(it.data, join(dir, "data.policy-ref.jsonl"));
        assert.equal(it.model, join(dir, "train", "model"));
        // The generator starts from the policy and moves; the policy trains from the policy, not the generator.
        assert.notDeepEqual(weights(it.generator.model), weights(it.policy));
        assert.notDeepEqual(weights(it.model), weights(it.generator.model));
        // The generator's objective reads the x+/x- pairs; the policy's plain IPO only the plain ones (its W is 1).
        const genLine = JSON.parse(
          readFileSync(join(dir, "generator", "train", "metrics.jsonl"), "utf8").split("\n")[0],
        );
        assert.ok(genLine["sso/L_pos"] > 0 && genLine["sso/L_neg"] > 0, JSON.stringify(genLine));
        assert.equal(it.train.first["sso/G"], 0);
        // Same answers as the generator wrote them; reference log-probs are the policy's, not the generator's.
        const own = records(join(dir, "data.jsonl")),
          rescored = records(it.data);
        assert.equal(rescored.length, own.length);
        assert.ok(
          own.every(
            (rec, i) =>
              rec.chosen[0].content === rescored[i].chosen[0].content &&
              rec.ref_chosen_logps !== rescored[i].ref_chosen_logps,
          ),
        );
        const scored = runCli(
          "score",
          "--model",
          it.policy,
          "--data",
          writeScore(out, rescored[0]),
          "--out",
          join(out, "s.jsonl"),
        );
        assert.equal(scored.status, 0, scored.stderr);
        assert.ok(
          Math.abs(JSON.parse(readFileSync(join(out, "s.jsonl"), "utf8")).logp - rescored[0].ref_chosen_logps) < 1e-3,
        );
      }
    });

    it("a v2 run killed in its second iteration's policy stage resumes and ends with the same weights", async () => {
      const out = join(work, "v2-killed"),
        cfg = v2Config();
      const child = spawnCli([...args(out, cfg), "--mode", "v2"], { stdio: "ignore" });
      const exited = new Promise((res) => child.on("exit", res));
      const marker = join(out, "iter-2", "data.jsonl.progress.json"),
        deadline = Date.now() + 60_000;
      while (!existsSync(marker)) {
        assert.ok(Date.now() < deadline, "iteration 2's policy stage never started");
        await new Promise((res) => setTimeout(res, 5));
      }
      child.kill("SIGKILL");
      await exited;
      assert.ok(!existsSync(join(out, "summary.json")), "the run finished before it was killed");
      const r = sso(...args(out, cfg), "--mode", "v2");
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /resuming/);
      for (const m of ["generator/train/model", "train/model"])
        assert.deepEqual(weights(join(out, "iter-2", m)), weights(join(work, "v2", "iter-2", m)), m);
    });

    it("refuses a policy objective that is not plain IPO/DPO, before anything is written", () => {
      const out = join(work, "v2-sso");
      const r = sso(...args(out, v2Config("sso")), "--mode", "v2");
      assert.notEqual(r.status, 0);
      assert.match(r.stderr.trim(), /^sso: train\.objective: iterate\.mode v2 trains the policy with plain IPO or DPO/);
      assert.ok(!existsSync(join(out, "run.json")));
      const bad = sso(...args(join(work, "v2-bad"), v2Config()), "--mode", "v3");
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr.trim(), /mode/);
    });
  });

  it("an empty prompts file is a one-line error before anything is synthesised", () => {
    writeFileSync(join(work, "empty.jsonl"), "\n");
    const out = join(work, "empty-run");
    const r = sso(
      "iterate",
      "--model",
      model,
      "--prompts",
      join(work, "empty.jsonl"),
      "--out",
      out,
      "--config",
      config(),
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr.trim(), /^sso: .*empty\.jsonl: no prompts$/);
    assert.ok(!existsSync(join(out, "iter-1", "data.jsonl")), "no records file");
  });
});

function writeScore(dir: string, rec: { prompt: unknown; chosen: { content: string }[] }): string {
  const path = join(dir, "score-in.jsonl");
  writeFileSync(path, `${JSON.stringify({ messages: rec.prompt, response: rec.chosen[0].content })}\n`);
  return path;
}
