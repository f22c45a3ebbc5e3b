// The token counts behind the memory check, on hand-computed cases: the largest micro-batch of a records file, the
// records `sso iterate` will train on bounded from the synthesis config, and synthesis's sampling and scoring; what
// trains with LoRA, and 16-bit frozen weights.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/model/config.js";
import { estimateMemory } from "../../src/model/memory.js";
import { SynthConfig } from "../../src/sso/config.js";
import { boundedRecordSize, synthWorkload, trainWorkload } from "../../src/sso/memory-check.js";
import { TrainConfig } from "../../src/sso/train-config.js";

const C = parseConfig({
  model_type: "qwen2",
  vocab_size: 97,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  tie_word_embeddings: true,
});

describe("memory check token counts", () => {
  it("training: the microBatch largest records' tokens and rows, the config's recompute and freeze", () => {
    const cfg = TrainConfig.parse({ microBatch: 2, recompute: true, freeze: ["model.embed_tokens.*"] });
    const w = trainWorkload(C, cfg, [
      { tokens: 10, rows: 2 },
      { tokens: 30, rows: 1 },
      { tokens: 20, rows: 5 },
    ]);
    assert.deepEqual(w.train, { tokens: 30 + 20, rows: 5 + 2, recompute: true });
    assert.equal(w.frozen, 97 * 32);
    // batchSize below microBatch caps the micro-batch.
    const one = trainWorkload(C, TrainConfig.parse({ microBatch: 4, batchSize: 1 }), [
      { tokens: 10, rows: 2 },
      { tokens: 30, rows: 1 },
    ]);
    assert.deepEqual(one.train, { tokens: 30, rows: 2, recompute: false });
  });

  it("LoRA: the adapters train (r·(in + out) per targeted module and layer), every model parameter is frozen", () => {
    const sizes = [{ tokens: 10, rows: 2 }];
    const full = trainWorkload(C, TrainConfig.parse({}), sizes),
      all = full.trainable + full.frozen;
    // q (32 → 32) and down (48 → 32) of 3 layers at r = 4: 4·(32 + 32) + 4·(48 + 32) per layer.
    const lora = TrainConfig.parse({ lora: { r: 4, alpha: 8, targets: ["down_proj", "q_proj"] } });
    const w = trainWorkload(C, lora, sizes);
    assert.equal(w.trainable, 3 * (4 * (32 + 32) + 4 * (48 + 32)));
    assert.equal(w.frozen, all);
    assert.equal(w.frozenBytes, undefined, "fp32 frozen weights by default");
    assert.deepEqual(w.train, { tokens: 10, rows: 2, recompute: false });
    // The default targets: every linear layer of attention and MLP (q 32→32, k and v 32→16, o 32→32, gate and up
    // 32→48, down 48→32).
    const every = trainWorkload(C, TrainConfig.parse({ lora: { r: 2, alpha: 4 } }), sizes);
    assert.equal(every.trainable, 3 * 2 * (64 + 2 * 48 + 64 + 2 * 80 + 80));
  });

  it("16-bit frozen weights: 2 bytes each for a LoRA base and for synthesis; full fine-tuning stays fp32", () => {
    const sizes = [{ tokens: 10, rows: 2 }];
    const lora = TrainConfig.parse({ lora: { r: 4, alpha: 8 } });
    const w16 = trainWorkload(C, lora, sizes, true),
      w32 = trainWorkload(C, lora, sizes, false);
    assert.equal(w16.frozenBytes, 2);
    assert.equal(
      estimateMemory(C, w32).parts.weights - estimateMemory(C, w16).parts.weights,
      2 * w16.frozen,
      "two bytes saved per frozen weight",
    );
    assert.equal(trainWorkload(C, TrainConfig.parse({}), sizes, true).frozenBytes, undefined, "fp32 masters");
    const synth = SynthConfig.parse({ batch: 2, sampling: { maxNewTokens: 10 } }),
      b = { plain: 5, contrast: 20 };
    assert.equal(synthWorkload(C, synth, b, true).frozenBytes, 2);
    assert.equal(synthWorkload(C, synth, b).frozenBytes, undefined);
  });

  it("iterate's bounded records: the sso preset's six pairs, two after x, four after x±", () => {
    const synth = SynthConfig.parse({ sampling: { maxNewTokens: 10 } });
    const r = boundedRecordSize(C, TrainConfig.parse({}), synth, { plain: 5, contrast: 20 });
    assert.deepEqual(r, { tokens: 2 * (5 + 11) + 4 * (20 + 11), rows: 6 * 11 });
    // pbaa reads only the two plain pairs.
    const p = boundedRecordSize(C, TrainConfig.parse({ objective: { preset: "pbaa" } }), synth, {
      plain: 5,
      contrast: 20,
    });
    assert.deepEqual(p, { tokens: 2 * 16, rows: 2 * 11 });
  });

  it("synthesis: 3·batch slots of the longest x± + maxNewTokens, prefilled together; scoring batches", () => {
    const w = synthWorkload(C, SynthConfig.parse({ batch: 2, sampling: { maxNewTokens: 10 } }), {
      plain: 5,
      contrast: 20,
    });
    assert.equal(w.trainable, 0);
    assert.deepEqual(w.infer, { tokens: 4096, rows: 4096, slots: 6, capacity: 30, prefillTokens: 2 * (5 + 2 * 20) });
    // The context caps the capacity (and with it the prefilled prompt length).
    const long = synthWorkload(C, SynthConfig.parse({ batch: 1, sampling: { maxNewTokens: 10 } }), {
      plain: 5,
      contrast: 600,
    });
    assert.equal(long.infer?.capacity, 512);
    assert.equal(long.infer?.prefillTokens, 5 + 2 * 502);
  });
});
