// `sso iterate --server sso --trainer torch`: with PyTorch ranks training (where /usr/bin/python3 has torch), the
// loop against a managed `sso serve` ends with the in-process loop's weights bit for bit, and the probe of each
// torch-saved policy is computed in TypeScript from the saved folder (no probe.json from the ranks); and with LoRA
// hot-swapped into the running server, the torch-trained adapters are the in-process torch loop's (iteration 1 bit
// for bit; iteration 2 samples from the initial model + the adapter stack, equal to the merged policy up to
// rounding).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readConfig } from "../../src/model/folder.js";
import { readAdapter } from "../../src/model/peft.js";
import { assertClose, makeTinyModel, runCliWith, tempDir } from "../helpers.js";

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;

/** A work folder with a tiny model, 4 prompts and a 2-iteration torch config; `run(out, ...flags)` iterates into it. */
function torchRun(tag: string, prompt: (i: number) => string, train: Record<string, unknown> = {}) {
  const work = tempDir(`sso-iter-srv-torch-${tag}`);
  const model = makeTinyModel(4);
  writeFileSync(
    join(work, "prompts.jsonl"),
    Array.from({ length: 4 }, (_, i) => JSON.stringify({ prompt: prompt(i) })).join("\n"),
  );
  const cfg = join(work, "cfg.json");
  writeFileSync(
    cfg,
    JSON.stringify({
      synth: { batch: 2, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 10 } },
      train: { lr: 2e-3, batchSize: 2, trainer: "torch", torch: { python: PYTHON, nproc: 1 }, ...train },
      iterate: { iterations: 2 },
    }),
  );
  const run = (out: string, ...extra: string[]) =>
    runCliWith(
      { timeout: 300_000 },
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
  return { work, model, run };
}

describe("sso iterate --server sso --trainer torch", { skip: !hasTorch && `${PYTHON} cannot import torch` }, () => {
  it("ends with the in-process torch loop's weights, bit for bit; the probe comes from the saved folder", () => {
    const { work, run } = torchRun("", (i) => `Count to ${i + 2}.`);
    const local = run("local");
    assert.equal(local.status, 0, local.stderr);
    const served = run("served", "--server", "sso");
    assert.equal(served.status, 0, served.stderr);
    assert.match(served.stderr, /probe: the server holds .*iter-1\/train\/model/);
    assert.ok(existsSync(join(work, "served", "iter-1", "train", "probe.json")));
    const bytes = (out: string) => readFileSync(join(work, out, "iter-2", "train", "model", "model.safetensors"));
    assert.ok(bytes("served").equals(bytes("local")), "the final weights differ");
  });

  it("LoRA hot-swapped into sso serve, trained by the torch ranks: the in-process torch loop's adapters", () => {
    const { work, model, run } = torchRun("lora-", (i) => `Name ${i + 2} colours.`, { lora: { r: 4, alpha: 8 } });
    const local = run("local");
    assert.equal(local.status, 0, local.stderr);
    const swapped = run("swapped", "--server", "sso", "--swap", "lora", "--server-keep");
    assert.equal(swapped.status, 0, swapped.stderr);
    assert.equal((swapped.stderr.match(/start the server/g) ?? []).length, 1, "the server was restarted");
    const adapter = (out: string, k: number) =>
      readAdapter(join(work, out, `iter-${k}`, "train", "adapter"), readConfig(model)).tensors;
    for (const k of [1, 2]) {
      const a = adapter("swapped", k),
        b = adapter("local", k);
      assert.equal(a.size, b.size);
      for (const [name, t] of b)
        if (k === 1) assert.deepEqual(a.get(name), t, name);
        else assertClose(a.get(name)!, t, { rtol: 1e-3, atol: 1e-5 }, `iteration ${k}: ${name}`);
    }
  });
});
