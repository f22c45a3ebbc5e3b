// `sso iterate` swapping the policy on a running server instead of restarting it (iterate.server.swap): LoRA
// through `sso serve`'s vLLM-style load/unload routes ends with the in-process loop's adapters; the fake vLLM's and
// SGLang's LoRA routes and SGLang's /update_weights_from_disk run a 2-iteration loop (the full reload with the
// in-process weights bit for bit); a server that acknowledges a swap but keeps the old weights is refused at the
// probe, and one without the LoRA routes is a one-line error saying how to start it; no server is left running.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, readConfig } from "../../src/model/folder.js";
import { readAdapter } from "../../src/model/peft.js";
import { alive, assertErrorLine, pidOf } from "../cli/server-helpers.js";
import { assertClose, makeTinyModel, runCliWith, tempDir } from "../helpers.js";

const FAKE = join(import.meta.dirname, "fake-server.js");

describe("sso iterate with hot swaps", () => {
  const work = tempDir("sso-swap-");
  const model = makeTinyModel(5);
  writeFileSync(
    join(work, "prompts.jsonl"),
    Array.from({ length: 4 }, (_, i) => JSON.stringify({ prompt: `Name ${i + 2} colours.` })).join("\n"),
  );
  const config = (name: string, iterations: number, lora: boolean) => {
    const path = join(work, `${name}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        synth: { batch: 2, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 10 } },
        train: { lr: 2e-3, batchSize: 2, saveEvery: 1, ...(lora && { lora: { r: 4, alpha: 8 } }) },
        iterate: { iterations },
      }),
    );
    return path;
  };
  const lora3 = config("lora3", 3, true),
    lora2 = config("lora2", 2, true),
    full2 = config("full2", 2, false);
  const sso = (out: string, cfg: string, ...extra: string[]) =>
    runCliWith(
      { timeout: 120_000 },
      "iterate",
      "--model",
      model,
      "--prompts",
      join(work, "prompts.jsonl"),
      "--out",
      join(work, out),
      "--config",
      cfg,
      ...extra,
    );
  const fake = (kind: string, ...flags: string[]) => [
    "--server-command",
    `'${process.execPath}' '${FAKE}' ${kind} {model} {port} {name} ${flags.join(" ")}`,
  ];
  const adapter = (out: string, k: number) =>
    readAdapter(join(work, out, `iter-${k}`, "train", "adapter"), readConfig(model)).tensors;
  const noServerLeft = (out: string, k: number) => assert.ok(!alive(pidOf(join(work, out, `iter-${k}`))));

  it("LoRA through sso serve's load/unload routes: the in-process loop's adapters", () => {
    const local = sso("local-lora3", lora3);
    assert.equal(local.status, 0, local.stderr);
    const r = sso("swap-sso", lora3, "--server", "sso", "--swap", "lora", "--server-keep");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /probe: the server holds .*iter-2\/train\/model \(.*POST \/v1\/completions\)/);
    assert.equal((r.stderr.match(/start the server/g) ?? []).length, 1, "the server was restarted");
    for (const k of [1, 2, 3]) {
      const a = adapter("swap-sso", k),
        b = adapter("local-lora3", k);
      // Iteration 1 samples from the same initial model: the same adapter bit for bit. Later ones sample from the
      // initial model + stacked adapters, equal to the merged policy up to float rounding.
      for (const [name, t] of b)
        if (k === 1) assert.deepEqual(a.get(name), t, name);
        else assertClose(a.get(name)!, t, { rtol: 1e-3, atol: 1e-5 }, `iteration ${k}: ${name}`);
    }
    noServerLeft("swap-sso", 1);
  });

  it("LoRA on the fake vLLM (slow start) and the fake SGLang: the new adapter loaded under sso-iter-2", () => {
    for (const kind of ["vllm", "sglang"]) {
      const out = `swap-${kind}-lora`;
      const r = sso(out, lora2, "--server", kind, "--swap", "lora", "--server-keep", ...fake(kind, "--warmup-ms 1000"));
      assert.equal(r.status, 0, r.stderr);
      const log = readFileSync(join(work, out, "iter-1", "server.log"), "utf8");
      const route = kind === "vllm" ? "/v1/load_lora_adapter" : "/load_lora_adapter";
      assert.match(
        log,
        new RegExp(`fake: ${route} \\{"lora_name":"sso-iter-2","lora_path":".*iter-1/train/adapter"\\}`),
      );
      assert.match(r.stderr, /probe: the server holds .*iter-1\/train\/model/);
      assert.ok(existsSync(join(work, out, "iter-2", "train", "adapter")));
      noServerLeft(out, 1);
    }
  });

  it("full weights on the fake SGLang: /update_weights_from_disk, the in-process weights bit for bit", () => {
    const local = sso("local-full2", full2);
    assert.equal(local.status, 0, local.stderr);
    const r = sso(
      "swap-sglang-weights",
      full2,
      "--server",
      "sglang",
      "--swap",
      "weights",
      "--server-keep",
      ...fake("sglang"),
    );
    assert.equal(r.status, 0, r.stderr);
    const log = readFileSync(join(work, "swap-sglang-weights", "iter-1", "server.log"), "utf8");
    assert.match(log, /fake: \/update_weights_from_disk \{"model_path":".*iter-1\/train\/model"\}/);
    const w = (out: string) => loadModel(join(work, out, "iter-2", "train", "model"), getBackend("ref")).params;
    assert.deepEqual(w("swap-sglang-weights"), w("local-full2"));
    noServerLeft("swap-sglang-weights", 1);
  });

  it("a server that acknowledges the swap but keeps the old weights is refused at the probe", () => {
    const r = sso(
      "stale",
      full2,
      "--server",
      "sglang",
      "--swap",
      "weights",
      "--server-keep",
      ...fake("sglang", "--stale"),
    );
    assertErrorLine(
      r,
      /^sso: iteration 2\/2 \(iterate\.server\): the server does not hold .*iter-1\/train\/model: POST \/generate \(model "sso-policy"\): probe log-probs \[.*\] are those of the previous weights \[.*; no records were written from it$/,
    );
    assert.ok(!existsSync(join(work, "stale", "iter-2", "data.jsonl")), "records were written");
    noServerLeft("stale", 1);
  });

  it("a server without the LoRA routes: one-line error saying how to start it, nothing left running", () => {
    const r = sso(
      "no-lora",
      lora2,
      "--server",
      "vllm",
      "--swap",
      "lora",
      "--server-keep",
      ...fake("vllm", "--no-lora"),
    );
    assertErrorLine(
      r,
      /^sso: iteration 2\/2 \(iterate\.server\): POST http:\/\/127\.0\.0\.1:\d+\/v1\/load_lora_adapter: HTTP 404: Not Found: the server has no such route; start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora/,
    );
    noServerLeft("no-lora", 1);
  });
});
