// Memory accounting: the workspace terms equal, float for float, what a real model's workspaces hold after a step
// (with and without recomputation, logits cached or chunked); the other parts are hand-computed on small shapes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel } from "../../src/model/folder.js";
import {
  estimateMemory,
  inferWorkspaceFloats,
  loraParameters,
  parameterSplit,
  trainWorkspaceFloats,
} from "../../src/model/memory.js";

const shape = (over: Record<string, unknown> = {}) =>
  parseConfig({
    model_type: "qwen2",
    vocab_size: 97,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 512,
    tie_word_embeddings: true,
    ...over,
  });
const SEQS = [
  { ids: Array.from({ length: 30 }, (_, t) => (t * 7 + 3) % 97), scoreFrom: 20 },
  { ids: Array.from({ length: 12 }, (_, t) => (t * 5 + 1) % 97), scoreFrom: 3 },
];
const T = 42,
  R = 10 + 9;

describe("memory accounting", () => {
  for (const recompute of [false, true]) {
    it(`the training workspace is exactly the estimate (recompute ${recompute})`, () => {
      const c = shape();
      const m = initModel(c, 1, getBackend("cpu"));
      const { outputs, state } = m.forward(SEQS, { forBackward: true, recompute });
      m.backward(
        state!,
        outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(0.5)),
        m.newGrads(),
      );
      assert.equal(m.workspaceBytes.train, 4 * trainWorkspaceFloats(c, T, R, recompute));
    });
  }

  it("past the logits cache the LM head takes chunks (a vocabulary of 2^20: chunks of 16 rows)", () => {
    const c = shape({ vocab_size: 2 ** 20, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1 });
    // 19·2^20 floats fit the 2^28-float logits cache; 300·2^20 do not.
    const cached = trainWorkspaceFloats(c, 100, 19, false),
      chunked = trainWorkspaceFloats(c, 100, 300, false);
    const rest = (Rr: number) =>
      trainWorkspaceFloats(
        shape({ vocab_size: 1, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1 }),
        100,
        Rr,
        false,
      );
    // logits cache 19·V plus the gradient chunk 16·V; chunked: one 16-row chunk for each (less V = 1's own).
    assert.equal(cached - rest(19), 19 * 2 ** 20 + 16 * 2 ** 20 - 2 * 19);
    assert.equal(chunked - rest(300), 2 * 16 * 2 ** 20 - 2 * 300);
  });

  it("the inference workspace is exactly the estimate", () => {
    const c = shape();
    const m = initModel(c, 1, getBackend("cpu"));
    m.forward(SEQS);
    // Model keeps both workspaces; the training one is empty here.
    assert.equal(m.workspaceBytes.train, 0);
    assert.equal(m.workspaceBytes.infer, 4 * inferWorkspaceFloats(c, T, R));
  });

  it("weights, gradients, AdamW moments, reference and KV cache on a hand-computed case", () => {
    const c = shape();
    // embed 97·32 = 3104; per layer: norms 64, q 1024 + 32, k 512 + 16, v 512 + 16, o 1024, gate/up/down 3·1536
    // = 7808; final norm 32 → 3104 + 3·7808 + 32 = 26560.
    const all = parameterSplit(c);
    assert.deepEqual(all, { trainable: 26560, frozen: 0 });
    const noEmbed = parameterSplit(c, ["model.embed_tokens.*"]);
    assert.deepEqual(noEmbed, { trainable: 26560 - 3104, frozen: 3104 });
    // LoRA r=2: per layer r·((32+32) + 2·(32+16) + (32+32) + 2·(32+48) + (48+32)) = 2·464.
    assert.equal(loraParameters(c, 2), 3 * 2 * 464);
    const e = estimateMemory(c, { ...noEmbed, frozenBytes: 2, reference: true });
    assert.equal(e.parts.weights, 4 * 23456 + 2 * 3104);
    assert.equal(e.parts.grads, 4 * 23456);
    assert.equal(e.parts.adamw, 8 * 23456);
    assert.equal(e.parts.reference, 2 * 26560);
    assert.equal(e.parts.activations, undefined);
    const g = estimateMemory(c, { trainable: 0, frozen: 26560, infer: { tokens: 8, rows: 8, slots: 3, capacity: 50 } });
    assert.equal(g.parts.grads, undefined);
    assert.equal(g.parts.kvCache, 4 * 2 * 3 * 3 * 50 * 16); // k and v · layers · slots · capacity · NKV·HS
    // Panels of 64 rows: the head (97 → 128 rows × 32), per layer q/k/v stacked (64 × 32), o (64 × 32), gate/up
    // stacked (96 → 128 rows × 32) and down (64 × 48).
    assert.equal(g.parts.decodePanels, 4 * (128 * 32 + 3 * (64 * 32 + 64 * 32 + 128 * 32 + 64 * 48)));
    assert.equal(
      g.total,
      Object.values(g.parts).reduce((a, b) => a + b, 0),
    );
  });
});
