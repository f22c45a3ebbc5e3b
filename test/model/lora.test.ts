// LoRA at the model level: PEFT's initialisation (B = 0 leaves the model unchanged; A within kaiming-uniform's bound;
// seeded), PEFT's scaling (alpha/r, alpha/√r with rsLoRA), the model's adapter gradients against a finite difference
// and against ref, merge(base, adapter) scoring as base + adapter, the PEFT folder round trip with the key names
// and config fields PEFT's own source writes, and one-line refusals of adapters we cannot apply.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend, probeBackends } from "../../src/backends/index.js";
import { loadModel, readConfig } from "../../src/model/folder.js";
import {
  attachLora,
  baseParamNames,
  initLora,
  LoraSettings,
  loraName,
  loraScale,
  mergeLora,
  moduleShape,
} from "../../src/model/lora.js";
import { loadMerged } from "../../src/model/merge.js";
import type { Model } from "../../src/model/model.js";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readAdapter, writeAdapter } from "../../src/model/peft.js";
import { readSafetensors, writeSafetensors } from "../../src/model/safetensors.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertClose, makeTinyModel, tempDir } from "../helpers.js";

const SEQS = [
  [3, 14, 15, 9, 26, 5, 35, 8],
  [9, 7, 9, 3, 2, 38, 46, 26, 43, 3],
];
const settings = (v: Partial<LoraSettings> = {}) => LoraSettings.parse({ r: 4, alpha: 8, ...v });

/** Sum of every scored log-prob: a scalar loss for derivative checks. */
const total = (m: Model): number =>
  m.forward(SEQS.map((ids) => ({ ids }))).outputs.reduce((s, o) => s + o.tokenLogps.reduce((a, x) => a + x, 0), 0);

/** An adapter with non-zero B (as after training), seeded. */
function trainedLike(m: Model, s: LoraSettings, seed: number) {
  const t = initLora(m.config, s, seed),
    rng = new Rng(seed + 1);
  for (const [name, x] of t) if (name.endsWith("lora_B.weight")) x.set(rng.normalArray(x.length, 0.05));
  return t;
}

describe("LoRA on a model", () => {
  const dir = makeTinyModel(7, {
    layers: 2,
    hidden: 32,
    intermediate: 48,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  });
  const config = readConfig(dir);

  it("PEFT's init: B = 0 leaves every log-prob unchanged, A ~ U(±1/√in), seeded", () => {
    const base = loadModel(dir, getBackend("cpu")),
      adapted = loadModel(dir, getBackend("cpu"));
    const s = settings(),
      t = initLora(config, s, 11);
    attachLora(adapted, s, t, "test");
    const want = base.forward(SEQS.map((ids) => ({ ids }))).outputs,
      got = adapted.forward(SEQS.map((ids) => ({ ids }))).outputs;
    got.forEach((o, i) => assert.deepEqual(o.tokenLogps, want[i].tokenLogps));
    for (const m of s.targets) {
      const [, inp] = moduleShape(config, m),
        a = t.get(loraName(1, m, "A"))!;
      assert.ok(a.every((x) => Math.abs(x) <= 1 / Math.sqrt(inp)) && a.some((x) => Math.abs(x) > 0.5 / Math.sqrt(inp)));
      assert.ok(t.get(loraName(1, m, "B"))!.every((x) => x === 0));
    }
    assert.deepEqual(initLora(config, s, 11), t);
    assert.notDeepEqual(initLora(config, s, 12).get(loraName(0, "q_proj", "A")), t.get(loraName(0, "q_proj", "A")));
  });

  it("scaling is alpha/r, or alpha/√r with rsLoRA (PEFT's update_layer)", () => {
    assert.equal(loraScale(settings({ r: 16, alpha: 32 })), 2);
    assert.equal(loraScale(settings({ r: 16, alpha: 32, rslora: true })), 8);
  });

  it("only adapters get gradients; their directional derivative matches a finite difference (ref)", () => {
    const m = loadModel(dir, getBackend("ref")),
      s = settings({ targets: ["q_proj", "v_proj", "down_proj"] });
    attachLora(m, s, trainedLike(m, s, 3), "test");
    m.freeze(baseParamNames(config));
    const grads = m.newGrads();
    assert.deepEqual([...grads.keys()], m.lora!.names);
    const { outputs, state } = m.forward(
      SEQS.map((ids) => ({ ids })),
      { forBackward: true },
    );
    m.backward(
      state!,
      outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(1)),
      grads,
    );
    const rng = new Rng(9),
      dirs = new Map([...grads.keys()].map((n) => [n, rng.normalArray(grads.get(n)!.length)]));
    let analytic = 0;
    for (const [n, g] of grads) g.forEach((x, i) => (analytic += x * dirs.get(n)![i]));
    const eps = 1e-2,
      shift = (k: number) => {
        for (const [n, d] of dirs) {
          const p = m.params.get(n)!;
          for (let i = 0; i < p.length; i++) p[i] += k * eps * d[i];
        }
      };
    shift(1);
    const up = total(m);
    shift(-2);
    const down = total(m);
    shift(1);
    const numeric = (up - down) / (2 * eps);
    assert.ok(
      Math.abs(analytic - numeric) <= 2e-2 * Math.abs(numeric) + 1e-2,
      `analytic ${analytic}, numeric ${numeric}`,
    );
  });

  for (const { name, backend } of probeBackends()) {
    if (!backend || name === "ref") continue;
    it(`${name}: log-probs and adapter gradients match ref`, () => {
      const run = (be: string) => {
        const m = loadModel(dir, getBackend(be)),
          s = settings({ rslora: true });
        attachLora(m, s, trainedLike(m, s, 5), "test");
        m.freeze(baseParamNames(config));
        const g = m.newGrads(),
          { outputs, state } = m.forward(
            SEQS.map((ids) => ({ ids })),
            { forBackward: true },
          );
        m.backward(
          state!,
          outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(1)),
          g,
        );
        return { logps: outputs.map((o) => o.tokenLogps), g };
      };
      const want = run("ref"),
        got = run(name);
      want.logps.forEach((l, i) => assertClose(got.logps[i], l, { rtol: 1e-4, atol: 1e-4 }, `logps ${i}`));
      for (const [n, g] of want.g) {
        const maxAbs = g.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
        assertClose(got.g.get(n)!, g, { rtol: 1e-3, atol: 1e-4 * Math.max(1, maxAbs) }, n);
      }
    });
  }

  it("merge(base, adapter) scores as base + adapter, and the merged model is a plain model", () => {
    const work = tempDir("sso-lora-merge-"),
      adapterDir = join(work, "adapter");
    const m = loadModel(dir, getBackend("cpu")),
      s = settings({ r: 3, alpha: 5 });
    attachLora(m, s, trainedLike(m, s, 8), "test");
    const withAdapter = m.forward(SEQS.map((ids) => ({ ids }))).outputs;
    writeAdapter(adapterDir, m, { baseModel: dir });
    const merged = loadMerged(dir, adapterDir, "cpu");
    assert.equal(merged.lora, undefined);
    assert.ok(![...merged.params.keys()].some((n) => n.includes("lora_")));
    merged
      .forward(SEQS.map((ids) => ({ ids })))
      .outputs.forEach((o, i) =>
        assertClose(o.tokenLogps, withAdapter[i].tokenLogps, { rtol: 1e-4, atol: 1e-4 }, `seq ${i}`),
      );
    // The merge changed the base: without the adapter the scores differ.
    const base = loadModel(dir, getBackend("cpu")).forward([{ ids: SEQS[0] }]).outputs[0].tokenLogps;
    assert.ok(base.some((x, i) => Math.abs(x - withAdapter[0].tokenLogps[i]) > 1e-3));
    mergeLora(m);
    assert.equal(m.lora, undefined);
  });

  it("PEFT folder round trip: PEFT's key names, shapes and config fields; the same tensors read back", () => {
    const work = tempDir("sso-lora-peft-"),
      out = join(work, "adapter");
    const m = loadModel(dir, getBackend("cpu")),
      s = settings({ r: 2, alpha: 16, targets: ["q_proj", "o_proj", "up_proj"], rslora: true }),
      t = trainedLike(m, s, 4);
    attachLora(m, s, t, "test");
    writeAdapter(out, m, { baseModel: "Qwen/Qwen2.5-0.5B-Instruct" });
    // What PEFT writes (save_and_load.py: keys of PeftModel.state_dict() holding "lora_", adapter name removed).
    const raw = readSafetensors(join(out, ADAPTER_WEIGHTS));
    const C = config.hiddenSize,
      qd = config.numHeads * config.headDim,
      FF = config.intermediateSize;
    const want = new Map<string, number[]>();
    for (let l = 0; l < config.numLayers; l++) {
      const p = `base_model.model.model.layers.${l}`;
      want.set(`${p}.self_attn.q_proj.lora_A.weight`, [2, C]);
      want.set(`${p}.self_attn.q_proj.lora_B.weight`, [qd, 2]);
      want.set(`${p}.self_attn.o_proj.lora_A.weight`, [2, qd]);
      want.set(`${p}.self_attn.o_proj.lora_B.weight`, [C, 2]);
      want.set(`${p}.mlp.up_proj.lora_A.weight`, [2, C]);
      want.set(`${p}.mlp.up_proj.lora_B.weight`, [FF, 2]);
    }
    assert.deepEqual(new Set(raw.keys()), new Set(want.keys()));
    for (const [k, shape] of want) {
      assert.deepEqual(raw.get(k)!.shape, shape, k);
      assert.equal(raw.get(k)!.dtype, "F32");
      assert.deepEqual(raw.get(k)!.data, t.get(k.slice("base_model.model.".length)), k);
    }
    const cfg = JSON.parse(readFileSync(join(out, ADAPTER_CONFIG), "utf8"));
    assert.deepEqual(
      {
        peft_type: cfg.peft_type,
        task_type: cfg.task_type,
        r: cfg.r,
        lora_alpha: cfg.lora_alpha,
        target_modules: cfg.target_modules,
        use_rslora: cfg.use_rslora,
        use_dora: cfg.use_dora,
        bias: cfg.bias,
        fan_in_fan_out: cfg.fan_in_fan_out,
        lora_dropout: cfg.lora_dropout,
        modules_to_save: cfg.modules_to_save,
        base_model_name_or_path: cfg.base_model_name_or_path,
      },
      {
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        r: 2,
        lora_alpha: 16,
        target_modules: ["o_proj", "q_proj", "up_proj"],
        use_rslora: true,
        use_dora: false,
        bias: "none",
        fan_in_fan_out: false,
        lora_dropout: 0,
        modules_to_save: null,
        base_model_name_or_path: "Qwen/Qwen2.5-0.5B-Instruct",
      },
    );
    const back = readAdapter(out, config);
    assert.deepEqual(back.settings, { ...s, targets: ["q_proj", "o_proj", "up_proj"] });
    assert.equal(back.baseModel, "Qwen/Qwen2.5-0.5B-Instruct");
    assert.deepEqual(back.tensors, t);
    // A BF16 adapter (as PEFT saves from a bf16 model) reads too, widened to fp32.
    writeAdapter(join(work, "bf16"), m, { baseModel: dir, dtype: "BF16" });
    const b16 = readAdapter(join(work, "bf16"), config);
    for (const [n, x] of t) assertClose(b16.tensors.get(n)!, x, { rtol: 1e-2, atol: 1e-6 }, n);
  });

  describe("refuses, in one line naming the file and key", () => {
    const work = tempDir("sso-lora-bad-"),
      good = join(work, "good");
    const m = loadModel(dir, getBackend("cpu")),
      s = settings({ r: 2 });
    attachLora(m, s, trainedLike(m, s, 6), "test");
    writeAdapter(good, m, { baseModel: dir });
    const goodCfg = JSON.parse(readFileSync(join(good, ADAPTER_CONFIG), "utf8"));
    let n = 0;
    /** A copy of the good adapter with its config changed and/or its tensors rewritten. */
    const variant = (
      cfg: Record<string, unknown>,
      tensors?: (t: Map<string, { shape: number[]; data: Float32Array }>) => void,
    ) => {
      const d = join(work, `v${n++}`);
      mkdirSync(d);
      writeFileSync(join(d, ADAPTER_CONFIG), JSON.stringify({ ...goodCfg, ...cfg }));
      const t = new Map(
        [...readSafetensors(join(good, ADAPTER_WEIGHTS))].map(([k, v]) => [k, { shape: v.shape, data: v.data }]),
      );
      tensors?.(t);
      writeSafetensors(
        join(d, ADAPTER_WEIGHTS),
        [...t].map(([name, v]) => ({ name, ...v })),
        { dtype: "F32" },
      );
      return d;
    };
    const refuses = (d: string, pattern: RegExp) => {
      assert.throws(
        () => loadModel(dir, getBackend("cpu"), { adapter: d }),
        (e: Error) => pattern.test(e.message) && !e.message.includes("\n"),
      );
    };

    it("an adapter for another base: a tensor's shape", () => {
      const other = makeTinyModel(7, {
        layers: 2,
        hidden: 48,
        intermediate: 48,
        num_attention_heads: 4,
        num_key_value_heads: 2,
      });
      assert.throws(
        () => loadModel(other, getBackend("cpu"), { adapter: good }),
        /adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_B\.weight has shape \[32,2\], the base model and r = 2 imply \[48,2\]/,
      );
    });
    it("an adapter for another base: more layers", () => {
      const one = makeTinyModel(7, {
        layers: 1,
        hidden: 32,
        intermediate: 48,
        num_attention_heads: 4,
        num_key_value_heads: 2,
      });
      assert.throws(
        () => loadModel(one, getBackend("cpu"), { adapter: good }),
        /tensor base_model\.model\.model\.layers\.1\..* is for layer 1, the base model has 1 layers/,
      );
    });
    it("a module that is not a Llama/Qwen2 Linear, and a missing tensor", () => {
      refuses(
        variant({}, (t) =>
          t.set("base_model.model.lm_head.lora_A.weight", { shape: [2, 32], data: new Float32Array(64) }),
        ),
        /tensor base_model\.model\.lm_head\.lora_A\.weight is not a LoRA matrix/,
      );
      refuses(
        variant({}, (t) => t.delete("base_model.model.model.layers.1.mlp.up_proj.lora_B.weight")),
        /missing adapter tensor model\.layers\.1\.mlp\.up_proj\.lora_B\.weight/,
      );
    });
    it("unsupported PEFT options: DoRA, modules_to_save, bias, another peft_type, a wrong r", () => {
      refuses(variant({ use_dora: true }), /adapter_config\.json: use_dora = true: DoRA is not supported/);
      refuses(
        variant({ modules_to_save: ["lm_head"] }),
        /modules_to_save = \["lm_head"\]: modules_to_save is not supported/,
      );
      refuses(variant({ bias: "all" }), /bias = "all": only bias "none" is supported/);
      refuses(variant({ peft_type: "IA3" }), /peft_type is "IA3", only "LORA"/);
      refuses(
        variant({ r: 3 }),
        /down_proj\.lora_A\.weight has shape \[2,48\], the base model and r = 3 imply \[3,48\]/,
      );
    });
    it("a folder with only adapter_model.bin", () => {
      const d = variant({});
      renameSync(join(d, ADAPTER_WEIGHTS), join(d, "adapter_model.bin"));
      refuses(d, /no adapter_model\.safetensors \(adapter_model\.bin is not read/);
    });
  });
});
