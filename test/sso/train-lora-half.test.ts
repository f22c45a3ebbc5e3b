// LoRA on a BF16 base (issue 14: the adapter trains fp32 on 16-bit frozen weights): the adapter trained on the
// base held 16-bit equals, bit for bit, the one trained on the same weights widened to an F32 folder; `sso train`
// holds a BF16 base 16-bit (its memory check counts 2 bytes per frozen weight: a limit between the two estimates
// passes the BF16 folder and refuses the F32 one; sso info says the same); a killed run resumes to the uninterrupted run's adapter; `sso
// iterate` with LoRA on a BF16 base merges each iteration (the base widened) into a BF16 policy.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { keeps16, loadModel, readConfig, saveModel } from "../../src/model/folder.js";
import type { LoraModule } from "../../src/model/lora.js";
import { estimateMemory, loraParameters, parameterSplit } from "../../src/model/memory.js";
import { readSafetensors } from "../../src/model/safetensors.js";
import { trainWorkload } from "../../src/sso/memory-check.js";
import { PRESETS, pairsNeeded } from "../../src/sso/objective.js";
import { SsoRecord } from "../../src/sso/record.js";
import { recordSequences, trainSso } from "../../src/sso/train.js";
import { TrainConfig } from "../../src/sso/train-config.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { readJsonl } from "../../src/util/jsonl.js";
import { assertClose, assertOneLineError, makeTinyModel, runCli, spawnCli, tempDir } from "../helpers.js";

const LORA = { r: 4, alpha: 8, targets: ["q_proj", "v_proj", "gate_proj", "down_proj"] };

describe("LoRA on a 16-bit base", () => {
  const work = tempDir("sso-lora-half-"),
    src = makeTinyModel(5);
  const bf16 = join(work, "bf16"),
    f32 = join(work, "f32");
  saveModel(loadModel(src, getBackend("cpu")), bf16, { dtype: "BF16", carryFrom: src });
  saveModel(loadModel(bf16, getBackend("cpu")), f32, { dtype: "F32", carryFrom: src }); // the same values, widened
  const prompts = join(work, "prompts.jsonl"),
    data = join(work, "data.jsonl");
  writeFileSync(prompts, [0, 1, 2, 3].map((i) => JSON.stringify({ prompt: `Name ${i + 2} colours.` })).join("\n"));
  const s = runCli("synth", "--model", bf16, "--prompts", prompts, "--out", data, "--max-new-tokens", "10");
  assert.equal(s.status, 0, s.stderr);
  const records = readJsonl(data, SsoRecord).map((l) => l.value);
  const train = { lr: 2e-2, epochs: 3, batchSize: 2, lora: LORA };
  const cfgPath = join(work, "cfg.json");
  writeFileSync(cfgPath, JSON.stringify({ train }));
  const adapterOf = (out: string) => readSafetensors(join(out, "adapter", "adapter_model.safetensors"));
  const assertSameAdapter = (a: ReturnType<typeof adapterOf>, b: ReturnType<typeof adapterOf>) => {
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [k, t] of a) assert.deepEqual(t.data, b.get(k)!.data, k);
  };

  it("keeps16 tells a BF16 folder from an F32 one (by the headers; config.json alone by its torch_dtype)", () => {
    assert.equal(keeps16(bf16), true);
    assert.equal(keeps16(f32), false);
    const bare = join(work, "bare");
    mkdirSync(bare);
    const raw = JSON.parse(readFileSync(join(f32, "config.json"), "utf8"));
    for (const [dtype, want] of [
      ["bfloat16", true],
      ["float32", false],
    ] as const) {
      writeFileSync(join(bare, "config.json"), JSON.stringify({ ...raw, torch_dtype: dtype }));
      assert.equal(keeps16(bare), want, dtype);
    }
  });

  it("cpu: the adapter trained on the base held 16-bit equals the one on the widened F32 base, bit for bit", () => {
    const cfg = TrainConfig.parse(train),
      tok = Tokenizer.fromDir(bf16);
    const half = loadModel(bf16, getBackend("cpu"), { keep16: true }),
      wide = loadModel(f32, getBackend("cpu"));
    assert.ok(half.halves.size > 0 && wide.halves.size === 0);
    const run = (m: typeof half, out: string) =>
      trainSso(m, tok, records, cfg, { out, sourceDir: bf16, resume: false });
    const a = run(half, join(work, "lib-half")),
      b = run(wide, join(work, "lib-wide"));
    assert.ok(a.length > 1);
    assert.deepEqual(
      a.map((m) => m.loss),
      b.map((m) => m.loss),
    );
    assertSameAdapter(adapterOf(join(work, "lib-half")), adapterOf(join(work, "lib-wide")));
    // sso train on the BF16 folder gives that adapter too.
    const r = runCli("train", "--model", bf16, "--data", data, "--out", join(work, "cli"), "--config", cfgPath);
    assert.equal(r.status, 0, r.stderr);
    assertSameAdapter(adapterOf(join(work, "cli")), adapterOf(join(work, "lib-half")));
  });

  it("sso train counts a BF16 LoRA base at 2 bytes per frozen weight: a limit between the estimates passes it", () => {
    const cfg = TrainConfig.parse(train),
      tok = Tokenizer.fromDir(bf16),
      pairs = pairsNeeded(PRESETS.sso);
    const sizes = records.map((rec) =>
      recordSequences(tok, rec, pairs).reduce(
        (a, q) => ({ tokens: a.tokens + q.ids.length, rows: a.rows + q.ids.length - q.scoreFrom }),
        { tokens: 0, rows: 0 },
      ),
    );
    const c = readConfig(bf16),
      est = (frozen16: boolean) => estimateMemory(c, trainWorkload(c, cfg, sizes, frozen16));
    const e16 = est(true),
      e32 = est(false);
    assert.equal(e32.parts.weights - e16.parts.weights, 2 * trainWorkload(c, cfg, sizes).frozen);
    const limit = String((e16.total + e32.total) / 2 / 2 ** 30);
    const at = (model: string, out: string) =>
      runCli("train", "--model", model, "--data", data, "--out", out, "--config", cfgPath, "--memory-limit", limit);
    assertOneLineError(at(f32, join(work, "limit-f32")), /^sso: train: estimated peak memory .* exceeds/);
    const ok = at(bf16, join(work, "limit-bf16"));
    assert.equal(ok.status, 0, ok.stderr);
  });

  it("sso info --model on the BF16 folder: scoring and the LoRA base at 2 bytes per weight, adapters at 4", () => {
    const r = runCli("info", "--json", "--model", bf16, "--config", cfgPath);
    assert.equal(r.status, 0, r.stderr);
    const lines: { what: string; estimate: { parts: Record<string, number> } }[] = JSON.parse(r.stdout).memory.lines;
    const c = readConfig(bf16),
      all = parameterSplit(c),
      n = all.trainable + all.frozen;
    assert.equal(lines[0].estimate.parts.weights, 2 * n, lines[0].what);
    const lora = lines.find((l) => l.what.startsWith("train with LoRA r=4"))!;
    assert.equal(lora.estimate.parts.weights, 2 * n + 4 * loraParameters(c, 4, LORA.targets as LoraModule[]));
  });

  it("a killed LoRA run on the BF16 base resumed with --resume ends with the uninterrupted run's adapter", async () => {
    const part = join(work, "part"),
      saveCfg = join(work, "cfg-save.json");
    writeFileSync(saveCfg, JSON.stringify({ train: { ...train, epochs: 10, saveEvery: 2 } }));
    const args = ["train", "--model", bf16, "--data", data, "--out", part, "--config", saveCfg];
    const whole = runCli(...args.slice(0, 6), join(work, "whole"), ...args.slice(7));
    assert.equal(whole.status, 0, whole.stderr);
    const child = spawnCli(args, { stdio: "ignore" });
    const exited = new Promise((res) => child.on("exit", res));
    const state = join(part, "checkpoint", "trainer_state.json"),
      deadline = Date.now() + 60_000;
    while (!(existsSync(state) && JSON.parse(readFileSync(state, "utf8")).step >= 2)) {
      assert.ok(Date.now() < deadline, "no checkpoint appeared");
      await new Promise((res) => setTimeout(res, 5));
    }
    child.kill("SIGKILL");
    await exited;
    const { step: killedAt, totalSteps } = JSON.parse(readFileSync(state, "utf8"));
    assert.ok(killedAt < totalSteps, `the run finished (step ${killedAt}) before it could be killed`);
    const r = runCli(...args, "--resume");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`trained ${totalSteps - killedAt} steps`), "resumed, not restarted");
    assertSameAdapter(adapterOf(part), adapterOf(join(work, "whole")));
  });

  it("sso iterate with LoRA on a BF16 base: each adapter merged into a BF16 policy, the next iteration's base", () => {
    const out = join(work, "iter"),
      cfg = join(work, "cfg-iter.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        synth: { batch: 4, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 10 } },
        train: { lr: 2e-2, batchSize: 4, lora: LORA, saveDtype: "BF16" },
        iterate: { iterations: 2 },
      }),
    );
    const r = runCli("iterate", "--model", bf16, "--prompts", prompts, "--out", out, "--config", cfg);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    assert.equal(summary.iterations[1].policy, summary.iterations[0].model);
    for (const it of summary.iterations) {
      assert.ok(keeps16(it.model), `${it.model} is BF16`);
      const seqs = [{ ids: [3, 14, 15, 9, 26, 5, 35, 8] }];
      const merged = loadModel(it.model, getBackend("cpu"), { keep16: true }).forward(seqs).outputs[0].tokenLogps,
        withAdapter = loadModel(it.policy, getBackend("cpu"), { keep16: true, adapter: it.adapter }).forward(seqs)
          .outputs[0].tokenLogps;
      // The merged weights are rounded to BF16, so equal up to that rounding.
      assertClose(merged, withAdapter, { rtol: 2e-2, atol: 2e-2 }, `iteration ${it.iteration}`);
    }
  });
});
