// Model folders: save → load is bit-exact (F32) and BF16-exact (BF16); tokenizer files travel with a save; every
// malformed folder or unsupported config fails with one line that names the file and the key or tensor.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { refBackend } from "../../src/backends/ref/index.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel, loadModel, readConfig, saveModel } from "../../src/model/folder.js";
import { readSafetensors, writeSafetensors } from "../../src/model/safetensors.js";
import { narrowToBf16, widenBf16 } from "../../src/tensor/dtype.js";
import { packageRoot } from "../../src/util/package-root.js";
import { tempDir } from "../helpers.js";

const GOLDEN = join(packageRoot(), "test", "fixtures", "golden");
const tmp = (): string => tempDir("sso-ckpt-");

/** Copies a fixture folder's config and weights into a fresh temp folder. */
function copyFixture(name: string): string {
  const dir = tmp();
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(GOLDEN, name, f), join(dir, f));
  return dir;
}

function assertOneLineError(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(!e.message.includes("\n"), `error spans several lines: ${e.message}`);
    for (const n of needles) assert.ok(e.message.includes(n), `error "${e.message}" does not mention "${n}"`);
    return true;
  });
}

describe("model folders", () => {
  for (const fixture of ["tiny-llama", "tiny-qwen2"]) {
    it(`${fixture}: save → load is bit-exact in F32, and BF16 saves the round-to-nearest-even weights`, () => {
      const model = loadModel(join(GOLDEN, fixture), refBackend);
      const out = join(tmp(), "saved");
      saveModel(model, out, { dtype: "F32" });
      const again = loadModel(out, refBackend);
      assert.equal(again.params.size, model.params.size);
      for (const [name, p] of model.params) assert.deepEqual(again.params.get(name), p, name);
      assert.deepEqual(readConfig(out).raw, { ...model.config.raw, torch_dtype: "float32" });

      saveModel(model, out, { dtype: "BF16" });
      const bf = loadModel(out, refBackend);
      for (const [name, p] of model.params) {
        const half = new Uint16Array(p.length),
          want = new Float32Array(p.length);
        narrowToBf16(half, p);
        widenBf16(want, half);
        assert.deepEqual(bf.params.get(name), want, name);
      }
      assert.equal(readConfig(out).raw.torch_dtype, "bfloat16");
    });
  }

  it("a tied model saves no lm_head.weight; tokenizer files are carried from the source folder", () => {
    const src = copyFixture("tiny-qwen2");
    writeFileSync(join(src, "tokenizer.json"), '{"fake": true}');
    writeFileSync(join(src, "generation_config.json"), '{"eos_token_id": 81}');
    const out = join(tmp(), "m");
    saveModel(loadModel(src, refBackend), out, { dtype: "F32", carryFrom: src });
    assert.ok(!readSafetensors(join(out, "model.safetensors")).has("lm_head.weight"));
    assert.equal(readFileSync(join(out, "tokenizer.json"), "utf8"), '{"fake": true}');
    assert.ok(existsSync(join(out, "generation_config.json")));
  });

  it("init-model is reproducible from the seed and initialises as Hugging Face does", () => {
    const config = readConfig(join(GOLDEN, "tiny-llama"));
    const a = initModel(config, 7, refBackend),
      b = initModel(config, 7, refBackend),
      c = initModel(config, 8, refBackend);
    assert.deepEqual(a.params, b.params);
    assert.notDeepEqual(a.params.get("model.embed_tokens.weight"), c.params.get("model.embed_tokens.weight"));
    assert.ok(a.params.get("model.norm.weight")!.every((x) => x === 1));
    const w = a.params.get("model.layers.0.mlp.up_proj.weight")!;
    const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
  });

  it("a wrong tensor shape, a missing or an extra tensor is a one-line error naming it", () => {
    const dir = copyFixture("tiny-llama");
    const tensors = readSafetensors(join(dir, "model.safetensors"));
    const list = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
    const q = list.find((t) => t.name === "model.layers.1.mlp.up_proj.weight")!;
    writeSafetensors(
      join(dir, "model.safetensors"),
      list.map((t) => (t === q ? { ...t, shape: [q.shape[1], q.shape[0]] } : t)),
      { dtype: "F32" },
    );
    assertOneLineError(() => loadModel(dir, refBackend), "model.layers.1.mlp.up_proj.weight", "shape");
    writeSafetensors(
      join(dir, "model.safetensors"),
      list.filter((t) => t.name !== "model.norm.weight"),
      { dtype: "F32" },
    );
    assertOneLineError(() => loadModel(dir, refBackend), "missing tensor model.norm.weight");
    writeSafetensors(
      join(dir, "model.safetensors"),
      [...list, { name: "model.extra.weight", shape: [2], data: new Float32Array(2) }],
      { dtype: "F32" },
    );
    assertOneLineError(() => loadModel(dir, refBackend), "unexpected tensor model.extra.weight");
  });

  it("a truncated safetensors file is a one-line error naming the file", () => {
    const dir = copyFixture("tiny-qwen2");
    const path = join(dir, "model.safetensors");
    truncateSync(path, statSync(path).size - 100);
    assertOneLineError(() => loadModel(dir, refBackend), "model.safetensors");
  });

  it("unsupported configs are refused with the key named", () => {
    const base = JSON.parse(readFileSync(join(GOLDEN, "tiny-llama", "config.json"), "utf8"));
    const cases: [Record<string, unknown>, string][] = [
      [{ model_type: "gpt2" }, "model_type"],
      [{ rope_scaling: { rope_type: "yarn", factor: 4 } }, "rope_scaling.rope_type"],
      [{ rope_scaling: { type: "dynamic", factor: 2 } }, "rope_scaling.type"],
      [{ model_type: "mistral", sliding_window: 64 }, "sliding_window"],
      [{ model_type: "qwen2", use_sliding_window: true }, "use_sliding_window"],
      [{ num_key_value_heads: 3 }, "num_key_value_heads"],
      [{ hidden_act: "gelu" }, "hidden_act"],
      [{ hidden_size: "32" }, "hidden_size"],
      [{ attention_bias: true }, "attention_bias"],
    ];
    for (const [patch, key] of cases)
      assertOneLineError(() => parseConfig({ ...base, ...patch }, "x/config.json"), "x/config.json", key);
    // Accepted: a sliding window that never triggers, rope_type "default", linear scaling.
    assert.equal(
      parseConfig({ ...base, model_type: "mistral", sliding_window: 4096, max_position_embeddings: 4096 }).modelType,
      "mistral",
    );
    assert.equal(parseConfig({ ...base, rope_scaling: { rope_type: "default" } }).ropeScaling.type, "none");
    assert.equal(parseConfig({ ...base, rope_scaling: { type: "linear", factor: 2 } }).ropeScaling.type, "linear");
  });
});
