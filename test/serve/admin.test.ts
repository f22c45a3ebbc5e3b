// `sso serve --allow-runtime-updates`: vLLM's LoRA load/unload routes with vLLM's answers (plain-text success,
// OpenAI-style JSON errors with its messages and statuses), the adapter selected by "model" and listed by
// /v1/models; SGLang's /update_weights_from_disk + /get_model_info; all of them 404 without the flag. And the
// stacked adapter of hot-swapped LoRA (src/sso/lora-stack.ts) scores as its adapters merged in turn.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, saveModel } from "../../src/model/folder.js";
import { attachLora, initLora, LoraSettings, mergeLora } from "../../src/model/lora.js";
import { writeAdapter } from "../../src/model/peft.js";
import { type RunningServer, serve } from "../../src/serve/server.js";
import { stackAdapters } from "../../src/sso/lora-stack.js";
import { Rng } from "../../src/tensor/rng.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { assertClose, makeTinyModel, tempDir } from "../helpers.js";

const work = tempDir("sso-admin-");
const base = makeTinyModel(11);
const SEQ = [{ ids: [1, 5, 9, 14, 3, 7, 2] }];

/** A PEFT adapter over `over` with random A and B (seeded), written to dir. */
function adapter(over: string, dir: string, seed: number, r: number): string {
  const m = loadModel(over, getBackend("cpu")),
    s = LoraSettings.parse({ r, alpha: 2 * r });
  const t = initLora(m.config, s, seed),
    rng = new Rng(seed + 1);
  for (const [name, v] of t) if (name.includes("lora_B")) v.set(rng.normalArray(v.length, 0.05));
  attachLora(m, s, t, "test");
  writeAdapter(dir, m, { baseModel: over });
  return dir;
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), text };
}

describe("sso serve's swap routes", () => {
  let on: RunningServer, off: RunningServer;
  const a1 = adapter(base, join(work, "a1"), 1, 2);
  before(async () => {
    const opts = { tok: Tokenizer.fromDir(base), modelName: "base", port: 0, modelPath: base, backend: "cpu" };
    on = await serve({
      ...opts,
      model: loadModel(base, getBackend("cpu"), { keep16: true }),
      allowRuntimeUpdates: true,
    });
    off = await serve({ ...opts, model: loadModel(base, getBackend("cpu"), { keep16: true }) });
  });
  after(async () => {
    await on.close();
    await off.close();
  });
  const score = async (model: string) => {
    const r = await call(on.url, "POST", "/v1/completions", {
      model,
      prompt: SEQ[0].ids,
      echo: true,
      max_tokens: 0,
      prompt_logprobs: 1,
    });
    assert.equal(r.status, 200, r.text);
    const lps = JSON.parse(r.text).choices[0].prompt_logprobs as (Record<string, { logprob: number }> | null)[];
    return lps.slice(1).map((e, t) => e![String(SEQ[0].ids[t + 1])].logprob);
  };

  it("load, select by model name, list, unload: vLLM's answers", async () => {
    const load = await call(on.url, "POST", "/v1/load_lora_adapter", { lora_name: "sso-iter-2", lora_path: a1 });
    assert.deepEqual([load.status, load.text], [200, "Success: LoRA adapter 'sso-iter-2' added successfully."]);
    assert.match(load.type!, /^text\/plain/);
    const models = JSON.parse((await call(on.url, "GET", "/v1/models")).text).data;
    assert.deepEqual(
      models.map((m: { id: string; parent?: string }) => [m.id, m.parent]),
      [
        ["base", undefined],
        ["sso-iter-2", "base"],
      ],
    );
    const m = loadModel(base, getBackend("cpu"), { adapter: a1 });
    const want = m.forward(SEQ).outputs[0].tokenLogps;
    assertClose(await score("sso-iter-2"), Array.from(want), { rtol: 0, atol: 1e-6 }, "adapter");
    assert.notDeepEqual(await score("base"), await score("sso-iter-2"));
    const again = await call(on.url, "POST", "/v1/load_lora_adapter", { lora_name: "sso-iter-2", lora_path: a1 });
    assert.equal(again.status, 400);
    assert.equal(JSON.parse(again.text).error.message, "The lora adapter 'sso-iter-2' has already been loaded.");
    const half = await call(on.url, "POST", "/v1/load_lora_adapter", { lora_name: "x" });
    assert.deepEqual(
      [half.status, JSON.parse(half.text).error.message],
      [400, "Both 'lora_name' and 'lora_path' must be provided."],
    );
    const unload = await call(on.url, "POST", "/v1/unload_lora_adapter", { lora_name: "sso-iter-2" });
    assert.deepEqual([unload.status, unload.text], [200, "Success: LoRA adapter 'sso-iter-2' removed successfully."]);
    const gone = await call(on.url, "POST", "/v1/unload_lora_adapter", { lora_name: "sso-iter-2" });
    assert.deepEqual(
      [gone.status, JSON.parse(gone.text).error.message],
      [404, "The lora adapter 'sso-iter-2' cannot be found."],
    );
    assert.equal((await call(on.url, "POST", "/v1/completions", { model: "sso-iter-2", prompt: [1, 2] })).status, 404);
  });

  it("update_weights_from_disk replaces the weights; get_model_info names the folder", async () => {
    const merged = join(work, "merged");
    const m = loadModel(base, getBackend("cpu"), { adapter: a1 });
    mergeLora(m);
    saveModel(m, merged, { dtype: "F32", carryFrom: base });
    const before = await score("base");
    const bad = await call(on.url, "POST", "/update_weights_from_disk", {});
    assert.deepEqual([bad.status, JSON.parse(bad.text).success], [400, false]);
    const r = await call(on.url, "POST", "/update_weights_from_disk", { model_path: merged });
    assert.deepEqual(JSON.parse(r.text), {
      success: true,
      message: "Succeeded to update model weights.",
      num_paused_requests: 0,
    });
    assert.equal(JSON.parse((await call(on.url, "GET", "/get_model_info")).text).model_path, merged);
    const after = await score("base");
    assertClose(after, Array.from(m.forward(SEQ).outputs[0].tokenLogps), { rtol: 0, atol: 1e-6 }, "reloaded");
    assert.notDeepEqual(after, before);
  });

  it("without --allow-runtime-updates every swap route is a 404", async () => {
    for (const [method, path] of [
      ["POST", "/v1/load_lora_adapter"],
      ["POST", "/v1/unload_lora_adapter"],
      ["POST", "/update_weights_from_disk"],
      ["GET", "/get_model_info"],
    ])
      assert.equal((await call(off.url, method, path, method === "POST" ? {} : undefined)).status, 404, path);
  });
});

describe("stacked LoRA adapters", () => {
  it("π_1 + stack(a1, a2) scores as π_1 with a1 merged, then a2 merged", () => {
    const a1 = adapter(base, join(work, "s1"), 3, 2);
    const pi2 = join(work, "pi2"),
      m2 = loadModel(base, getBackend("cpu"), { adapter: a1 });
    mergeLora(m2);
    saveModel(m2, pi2, { dtype: "F32", carryFrom: base });
    const a2 = adapter(pi2, join(work, "s2"), 5, 3);
    const m3 = loadModel(pi2, getBackend("cpu"), { adapter: a2 });
    mergeLora(m3);
    const stack = stackAdapters(base, [a1, a2], join(work, "stack"));
    const viaStack = loadModel(base, getBackend("cpu"), { adapter: stack }).forward(SEQ).outputs[0].tokenLogps;
    assertClose(viaStack, m3.forward(SEQ).outputs[0].tokenLogps, { rtol: 0, atol: 1e-4 }, "stack");
    const onlyFirst = loadModel(base, getBackend("cpu"), { adapter: a1 }).forward(SEQ).outputs[0].tokenLogps;
    assert.ok(
      viaStack.some((x, i) => Math.abs(x - onlyFirst[i]) > 1e-3),
      "the second adapter changed nothing",
    );
  });
});
