// train.lora with the torch trainer against the TypeScript trainer on the same records, initial adapter and
// schedule: the adapters' updates after 3 steps agree within 1e-4 (relative Frobenius norm) on 1 and 2 ranks; the
// PEFT folder is written as src/model/peft.ts writes it (same files, config text, tensor names, shapes and dtypes)
// and loads through our --adapter path to the TS adapter's log-probs; a run killed with SIGKILL and resumed ends
// bit for bit where an uninterrupted one does; `sso iterate` with trainer torch and LoRA runs 2 iterations.
// Skipped where /usr/bin/python3 cannot import torch.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, readConfig } from "../../src/model/folder.js";
import { initLora, LoraSettings } from "../../src/model/lora.js";
import { PEFT_PREFIX } from "../../src/model/peft.js";
import { readSafetensors } from "../../src/model/safetensors.js";
import { PRESETS, pairsNeeded } from "../../src/sso/objective.js";
import { SsoRecord } from "../../src/sso/record.js";
import { LORA_INIT_STREAM, policyRecordLogps } from "../../src/sso/train.js";
import { mixSeed } from "../../src/tensor/rng.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { readJsonl } from "../../src/util/jsonl.js";
import { makeTinyModel, runCli, spawnCli, tempDir } from "../helpers.js";

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
const sso = runCli;
const LORA = { r: 4, alpha: 16, targets: ["q_proj", "v_proj", "up_proj", "down_proj"], rslora: true };

describe("torch trainer with train.lora", { skip: !hasTorch && `${PYTHON} cannot import torch` }, () => {
  const work = tempDir("sso-torch-lora-");
  let n = 0;
  const file = (value: unknown, ext = "json"): string => {
    const path = join(work, `f${n++}.${ext}`);
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
    return path;
  };
  const model = makeTinyModel(1);
  const prompts = file(
    Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `Name ${i + 2} colours.` })).join("\n"),
    "jsonl",
  );
  const all = join(work, "all.jsonl");
  const s = sso("synth", "--model", model, "--prompts", prompts, "--out", all, "--max-new-tokens", "16", "--seed", "4");
  assert.equal(s.status, 0, s.stderr);
  const data = file(`${readFileSync(all, "utf8").trim().split("\n").slice(0, 9).join("\n")}\n`, "jsonl");
  // 9 records in batches of 3 (micro-batches of 2) = 3 steps; lr 1e-3 moves B off zero at step 1, A from step 2.
  const cfg = (trainer: string, torch: object = {}) =>
    file({
      train: {
        lr: 1e-3,
        batchSize: 3,
        microBatch: 2,
        saveEvery: 1,
        lora: LORA,
        trainer,
        torch: { python: PYTHON, ...torch },
      },
    });
  const train = (out: string, config: string, ...extra: string[]) =>
    sso("train", "--model", model, "--data", data, "--out", out, "--config", config, "--backend", "cpu", ...extra);
  const adapter = (dir: string) => readSafetensors(join(dir, "adapter_model.safetensors"));
  const init = initLora(readConfig(model), LoraSettings.parse(LORA), mixSeed(0, LORA_INIT_STREAM));

  /** ‖Δtorch − Δts‖_F / ‖Δts‖_F over every adapter tensor (Δ = trained − initial), and the worst single tensor. */
  const updateError = (tsDir: string, torchDir: string) => {
    const a = adapter(tsDir),
      b = adapter(torchDir);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    let diff = 0,
      norm = 0,
      worst = 0;
    for (const [key, t] of a) {
      const start = init.get(key.slice(PEFT_PREFIX.length))!,
        u = b.get(key)!.data;
      let d = 0,
        nn = 0;
      for (let i = 0; i < t.data.length; i++) {
        const up = t.data[i] - start[i];
        d += (u[i] - start[i] - up) ** 2;
        nn += up * up;
      }
      diff += d;
      norm += nn;
      if (nn > 0) worst = Math.max(worst, Math.sqrt(d / nn));
    }
    assert.ok(norm > 0, "the adapter did not move");
    return { rel: Math.sqrt(diff / norm), worst };
  };

  it("starts from the TypeScript trainer's initial adapter (same seed rule), bit for bit", () => {
    const r = train(join(work, "t1"), cfg("torch"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /→ .*t1\/adapter/);
    assert.ok(!existsSync(join(work, "t1", "model")));
    const first = readSafetensors(join(work, "t1", "torch", "adapter-init.safetensors"));
    assert.equal(first.size, init.size);
    for (const [name, t] of init) assert.deepEqual(first.get(PEFT_PREFIX + name)!.data, t, name);
  });

  it("3 steps: the adapter's update is the TypeScript trainer's within 1e-4 (Frobenius), on 1 and 2 ranks", () => {
    const ts = train(join(work, "ts"), cfg("ts"));
    assert.equal(ts.status, 0, ts.stderr);
    const one = updateError(join(work, "ts", "adapter"), join(work, "t1", "adapter"));
    const r2 = train(join(work, "t2"), cfg("torch", { nproc: 2 }));
    assert.equal(r2.status, 0, r2.stderr);
    const two = updateError(join(work, "ts", "adapter"), join(work, "t2", "adapter"));
    console.log(`LoRA parity, relative Frobenius error of the 3-step update: 1 rank ${one.rel}, 2 ranks ${two.rel}`);
    console.log(`  (worst single tensor: 1 rank ${one.worst}, 2 ranks ${two.worst})`);
    assert.ok(one.rel <= 1e-4, `1 rank: ${one.rel}`);
    assert.ok(two.rel <= 1e-4, `2 ranks: ${two.rel}`);
    const moments = [...readSafetensors(join(work, "t1", "checkpoint", "optimizer.safetensors")).keys()].sort();
    const tsMoments = [...readSafetensors(join(work, "ts", "checkpoint", "optimizer.safetensors")).keys()].sort();
    assert.deepEqual(moments, tsMoments, "the optimizer holds the adapter's moments only, under the same names");
  });

  it("writes the PEFT folder as the TypeScript trainer does, and it loads via --adapter to the same log-probs", () => {
    for (const sub of ["adapter", join("checkpoint", "adapter")]) {
      const a = join(work, "ts", sub),
        b = join(work, "t1", sub);
      assert.equal(
        readFileSync(join(b, "adapter_config.json"), "utf8"),
        readFileSync(join(a, "adapter_config.json"), "utf8"),
      );
      // The safetensors header: the same tensors, shapes, dtypes and offsets (only the values differ).
      const header = (dir: string) => {
        const buf = readFileSync(join(dir, "adapter_model.safetensors"));
        return buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString();
      };
      assert.equal(header(b), header(a), sub);
    }
    const records = readJsonl(data, SsoRecord).map((l) => l.value),
      tok = Tokenizer.fromDir(model),
      pairs = pairsNeeded(PRESETS.sso);
    const logps = (dir: string) =>
      policyRecordLogps(
        loadModel(model, getBackend("cpu"), { adapter: join(work, dir, "adapter") }),
        tok,
        records,
        pairs,
      );
    const [a, b] = [logps("ts"), logps("t1")];
    a.forEach((rec, i) => {
      for (const p of pairs) {
        const x = rec[p]!.policy,
          y = b[i][p]!.policy;
        assert.ok(Math.abs(x - y) <= 1e-5 * Math.abs(x), `record ${i} ${p}: ${y} vs ${x}`);
      }
    });
  });

  it("a run killed with SIGKILL and resumed ends with the uninterrupted run's adapter, bit for bit", async () => {
    const out = join(work, "killed"),
      config = cfg("torch");
    const child = spawnCli(["train", "--model", model, "--data", data, "--out", out, "--config", config]);
    const exited = new Promise((res) => child.on("exit", res));
    const state = join(out, "checkpoint", "trainer_state.json"),
      deadline = Date.now() + 120_000;
    while (!existsSync(state)) {
      assert.ok(Date.now() < deadline, "no checkpoint appeared");
      await new Promise((res) => setTimeout(res, 5));
    }
    child.kill("SIGKILL");
    await exited;
    assert.ok(!existsSync(join(out, "adapter")), "the run finished before it was killed");
    const r = train(out, config, "--resume");
    assert.equal(r.status, 0, r.stderr);
    const [a, b] = [adapter(join(work, "t1", "adapter")), adapter(join(out, "adapter"))];
    for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, name);
    const steps = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    assert.deepEqual(steps, [1, 2, 3]);
  });

  it("sso iterate with trainer torch and train.lora runs 2 iterations, merging each adapter", () => {
    const config = file({
      synth: { batch: 4, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 16 } },
      train: { lr: 2e-3, batchSize: 4, lora: LORA, trainer: "torch", torch: { python: PYTHON } },
      iterate: { iterations: 2 },
    });
    const out = join(work, "iter");
    const r = sso("iterate", "--model", model, "--prompts", prompts, "--out", out, "--config", config);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    assert.equal(summary.iterations.length, 2);
    for (const k of [1, 2]) {
      assert.ok(existsSync(join(out, `iter-${k}`, "train", "adapter", "adapter_model.safetensors")), `iteration ${k}`);
      assert.ok(existsSync(join(out, `iter-${k}`, "train", "model", "config.json")), `iteration ${k} merged`);
    }
    const w = (k: number) => loadModel(join(out, `iter-${k}`, "train", "model"), getBackend("ref")).params;
    assert.notDeepEqual(
      w(2).get("model.layers.0.self_attn.q_proj.weight"),
      w(1).get("model.layers.0.self_attn.q_proj.weight"),
    );
  });
});
