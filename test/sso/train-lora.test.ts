// `sso train` with train.lora on a tiny random model: only the adapter trains (the base folder is untouched, the
// optimizer holds moments for A and B only), the result is a PEFT folder that lowers the SSO loss, a killed run
// resumed from its checkpoint ends with the uninterrupted run's adapter bit for bit, `sso merge` and `--adapter`
// score alike, `sso iterate` merges each iteration's adapter into the next policy, and bad settings are one line.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { readSafetensors } from "../../src/model/safetensors.js";
import { PRESETS, pairsNeeded, ssoObjective } from "../../src/sso/objective.js";
import { SsoRecord } from "../../src/sso/record.js";
import { policyRecordLogps } from "../../src/sso/train.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { readJsonl } from "../../src/util/jsonl.js";
import { readGgufFile, tensorData } from "../export/gguf-reader.js";
import {
  assertClose,
  assertOneLineError,
  makeTinyModel,
  runCli,
  runCliWith,
  spawnCli,
  startServe,
  tempDir,
} from "../helpers.js";

const sso = runCli;
const LORA = { r: 4, alpha: 16, targets: ["q_proj", "v_proj", "up_proj", "down_proj"] };

let cfgCount = 0;
function cfgFile(work: string, value: unknown): string {
  const path = join(work, `cfg${cfgCount++}.json`);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

const fileHash = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("sso train with train.lora", () => {
  const work = tempDir("sso-train-lora-"),
    model = makeTinyModel(1);
  writeFileSync(
    join(work, "prompts.jsonl"),
    Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `Name ${i + 2} colours.` })).join("\n"),
  );
  const data = join(work, "data.jsonl");
  const synth = sso(
    "synth",
    ...[
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
    ],
  );
  assert.equal(synth.status, 0, synth.stderr);
  const records = readJsonl(data, SsoRecord).map((l) => l.value);
  const trainArgs = (out: string, cfg: object, ...extra: string[]) => [
    "train",
    "--model",
    model,
    "--data",
    data,
    "--out",
    out,
    "--lr",
    "2e-2",
    "--epochs",
    "4",
    "--batch-size",
    "3",
    "--config",
    cfgFile(work, { train: { lora: LORA, ...cfg } }),
    ...extra,
  ];
  const baseHash = fileHash(join(model, "model.safetensors"));

  it("trains only the adapter: a PEFT folder that lowers the loss, moments for A and B only, the base untouched", () => {
    const out = join(work, "run");
    const r = sso(...trainArgs(out, {}));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /→ .*run\/adapter/);
    assert.ok(existsSync(join(out, "adapter", "adapter_config.json")) && !existsSync(join(out, "model")));
    assert.equal(fileHash(join(model, "model.safetensors")), baseHash);
    const moments = [...readSafetensors(join(out, "checkpoint", "optimizer.safetensors")).keys()];
    assert.equal(moments.length, 2 * 2 * LORA.targets.length * 2); // m and v · A and B · targets · 2 layers
    assert.ok(moments.every((k) => /^[mv]\.model\.layers\.\d\.(self_attn|mlp)\.\w+\.lora_[AB]\.weight$/.test(k)));
    assert.ok(!existsSync(join(out, "checkpoint", "model")) && existsSync(join(out, "checkpoint", "adapter")));
    const tok = Tokenizer.fromDir(model),
      pairs = pairsNeeded(PRESETS.sso);
    const loss = (adapter?: string) =>
      ssoObjective(
        policyRecordLogps(loadModel(model, getBackend("cpu"), { adapter }), tok, records, pairs),
        PRESETS.sso,
      ).loss;
    const before = loss(),
      after = loss(join(out, "adapter"));
    assert.ok(after < before, `loss ${before} → ${after}`);
  });

  it("a killed run resumed with --resume ends with the uninterrupted run's adapter, bit for bit", async () => {
    const part = join(work, "part");
    const child = spawnCli(trainArgs(part, { saveEvery: 2 }), { stdio: "ignore" });
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
    assert.ok(killedAt < totalSteps, `the run finished (step ${killedAt}) before it could be killed`);
    // As if the kill had come between the checkpoint swap's two renames.
    renameSync(join(part, "checkpoint"), join(part, ".checkpoint.999999999.x.tmp.old"));
    const r = sso(...trainArgs(part, { saveEvery: 2 }, "--resume"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`trained ${totalSteps - killedAt} steps`), "resumed, not restarted");
    const a = readSafetensors(join(work, "run", "adapter", "adapter_model.safetensors")),
      b = readSafetensors(join(part, "adapter", "adapter_model.safetensors"));
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
  });

  it("sso merge writes a folder that scores as --model BASE --adapter DIR", () => {
    const merged = join(work, "merged"),
      adapter = join(work, "run", "adapter");
    const m = sso("merge", "--model", model, "--adapter", adapter, "--out", merged);
    assert.equal(m.status, 0, m.stderr);
    const input = join(work, "score-in.jsonl");
    writeFileSync(
      input,
      records
        .slice(0, 3)
        .map((r) => JSON.stringify({ messages: r.prompt, response: r.chosen[0].content }))
        .join("\n"),
    );
    const scores = (...flags: string[]) => {
      const out = join(work, `scores-${flags.length}.jsonl`);
      const r = sso("score", ...flags, "--data", input, "--out", out);
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).logp as number);
    };
    const viaAdapter = scores("--model", model, "--adapter", adapter),
      viaMerged = scores("--model", merged);
    assertClose(viaMerged, viaAdapter, { rtol: 1e-4, atol: 1e-4 }, "logp");
    assert.notDeepEqual(scores("--model", model, "--backend", "cpu"), viaAdapter);
  });

  it("export --gguf --adapter writes the merged weights; generate and eval --adapter answer as the merged folder", () => {
    const merged = join(work, "merged"),
      adapter = join(work, "run", "adapter");
    const ex = (out: string, ...flags: string[]) => {
      const r = sso("export", ...flags, "--gguf", out, "--dtype", "f32");
      assert.equal(r.status, 0, r.stderr);
      return readGgufFile(out);
    };
    const a = ex(join(work, "a.gguf"), "--model", model, "--adapter", adapter),
      b = ex(join(work, "b.gguf"), "--model", merged);
    assert.deepEqual(
      a.tensors.map((t) => t.name),
      b.tensors.map((t) => t.name),
    );
    for (const t of a.tensors) assert.deepEqual(tensorData(a, t.name, Number), tensorData(b, t.name, Number), t.name);
    const prompts = join(work, "gen-in.jsonl");
    writeFileSync(
      prompts,
      records
        .slice(0, 3)
        .map((r) => JSON.stringify({ messages: r.prompt }))
        .join("\n"),
    );
    const gen = (out: string, ...flags: string[]) => {
      const r = sso(
        "generate",
        ...flags,
        "--data",
        prompts,
        "--out",
        out,
        "--temperature",
        "0",
        "--max-new-tokens",
        "12",
      );
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(out, "utf8");
    };
    assert.equal(
      gen(join(work, "g1.jsonl"), "--model", model, "--adapter", adapter),
      gen(join(work, "g2.jsonl"), "--model", merged),
    );
    const evalOut = (...flags: string[]) => {
      const r = sso("eval", ...flags, "--world", "--n", "3", "--max-new-tokens", "8");
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(evalOut("--model", model, "--adapter", adapter), evalOut("--model", merged));
    const problems = join(work, "math.jsonl");
    writeFileSync(problems, `${JSON.stringify({ question: "What is 2 + 2?", answer: "#### 4" })}\n`);
    const mathOut = (...flags: string[]) => {
      const out = join(work, `math-${flags.length}.json`);
      const r = sso(
        "eval",
        "math",
        "--data",
        problems,
        "--format",
        "gsm8k",
        ...flags,
        "--max-new-tokens",
        "8",
        "--out",
        out,
      );
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(readFileSync(out, "utf8")).results;
    };
    const viaAdapter = mathOut("--model", model, "--adapter", adapter);
    assert.equal(viaAdapter.length, 1);
    assert.deepEqual(viaAdapter, mathOut("--model", merged));
    const chat = runCliWith(
      { input: "hi\n/exit\n" },
      "chat",
      "--model",
      model,
      "--adapter",
      adapter,
      "--max-new-tokens",
      "4",
    );
    assert.equal(chat.status, 0, chat.stderr);
  });

  it("synth and serve take --adapter: the records name policy + adapter, the server answers", async () => {
    const adapter = join(work, "run", "adapter"),
      two = join(work, "two-prompts.jsonl");
    writeFileSync(two, [0, 1].map((i) => JSON.stringify({ prompt: `Name ${i + 2} colours.` })).join("\n"));
    const synthWith = (out: string, ...flags: string[]) => {
      const r = sso("synth", "--model", model, ...flags, "--prompts", two, "--out", out, "--max-new-tokens", "8");
      assert.equal(r.status, 0, r.stderr);
      return readJsonl(out, SsoRecord).map((l) => l.value);
    };
    const plain = synthWith(join(work, "s1.jsonl")),
      adapted = synthWith(join(work, "s2.jsonl"), "--adapter", adapter);
    assert.ok(plain.length > 0 && adapted.length > 0);
    assert.notEqual(adapted[0].policy_hash, plain[0].policy_hash);
    const { server, url, exited } = await startServe(["--model", model, "--adapter", adapter]);
    try {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4, temperature: 0 }),
      });
      assert.equal(res.status, 200);
      assert.equal(
        typeof ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content,
        "string",
      );
    } finally {
      server.kill("SIGTERM");
      await exited;
    }
  });

  it("bad LoRA settings are one line naming the key, before any work", () => {
    const bad = (lora: object, pattern: RegExp, extra: object = {}) =>
      assertOneLineError(
        sso(
          "train",
          "--model",
          model,
          "--data",
          data,
          "--out",
          join(work, "bad"),
          "--config",
          cfgFile(work, { train: { lora, ...extra } }),
        ),
        pattern,
      );
    bad({ r: 0, alpha: 8 }, /train\.lora\.r/);
    bad({ r: 4, alpha: 8, dropout: 0.1 }, /train\.lora\.dropout.*not implemented/);
    bad({ r: 4, alpha: 8, targets: ["lm_head"] }, /train\.lora\.targets/);
    bad({ r: 4 }, /train\.lora\.alpha/);
    assert.ok(!existsSync(join(work, "bad")));
    assertOneLineError(
      sso(
        "score",
        "--model",
        model,
        "--adapter",
        join(work, "nowhere"),
        "--data",
        join(work, "score-in.jsonl"),
        "--out",
        join(work, "x.jsonl"),
      ),
      /nowhere: not a PEFT adapter folder \(no adapter_config\.json\)/,
    );
  });

  it("sso iterate with LoRA: each iteration's adapter is kept and merged into the next policy", () => {
    const out = join(work, "iter");
    const cfg = cfgFile(work, {
      synth: { batch: 4, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 12 } },
      train: { lr: 2e-2, batchSize: 4, lora: LORA },
      iterate: { iterations: 2 },
    });
    const r = sso("iterate", "--model", model, "--prompts", join(work, "prompts.jsonl"), "--out", out, "--config", cfg);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    for (const k of [1, 2]) {
      const it = summary.iterations[k - 1];
      assert.equal(it.adapter, join(out, `iter-${k}`, "train", "adapter"));
      assert.equal(it.model, join(out, `iter-${k}`, "train", "model"));
      // model = policy + adapter (merged), checked by scoring.
      const seqs = [{ ids: [3, 14, 15, 9, 26, 5, 35, 8] }];
      const merged = loadModel(it.model, getBackend("cpu")).forward(seqs).outputs[0].tokenLogps,
        withAdapter = loadModel(it.policy, getBackend("cpu"), { adapter: it.adapter }).forward(seqs).outputs[0]
          .tokenLogps;
      assertClose(merged, withAdapter, { rtol: 1e-4, atol: 1e-4 }, `iteration ${k}`);
    }
    assert.equal(summary.iterations[1].policy, summary.iterations[0].model);
    assert.equal(fileHash(join(model, "model.safetensors")), baseHash);
  });
});
