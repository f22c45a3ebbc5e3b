// The token counts behind the memory check, on hand-computed cases: the largest micro-batch of a records file, the
// records `sso iterate` will train on bounded from the synthesis config, and synthesis's sampling and scoring.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../src/model/config.js";
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
