// Activation recomputation (forward({forBackward, recompute})): backward recomputes each layer from its saved input
// with the same kernels on the same inputs, so log-probs and every gradient are bitwise those of the path that
// keeps all activations — on both backends — while the training workspace holds far fewer bytes. Likewise the LM
// head's logits, kept for backward or recomputed there chunk by chunk.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel } from "../../src/model/folder.js";
import type { Params } from "../../src/model/params.js";

const CONFIG = parseConfig({
  model_type: "qwen2",
  vocab_size: 97,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 6,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  tie_word_embeddings: true,
});
const SEQS = [
  { ids: Array.from({ length: 40 }, (_, t) => (t * 7 + 3) % 97), scoreFrom: 25 },
  { ids: Array.from({ length: 17 }, (_, t) => (t * 13 + 5) % 97), scoreFrom: 4 },
  { ids: [9, 7, 9, 3, 2, 38, 46, 26, 43, 3] },
];

/** One training forward and backward (fresh model from the same seed); log-probs, gradients, workspace bytes.
 *  `head` sets the LM head's chunk and logits-cache sizes (floats). */
function step(backend: string, recompute: boolean, head?: { chunk: number; cache: number }) {
  const model = initModel(CONFIG, 11, getBackend(backend));
  if (head) {
    model.headChunkFloats = head.chunk;
    model.logitsCacheFloats = head.cache;
  }
  model.freeze(["model.layers.2.mlp.*"]); // a frozen layer in the middle too
  const { outputs, state } = model.forward(SEQS, { forBackward: true, recompute });
  const grads: Params = model.newGrads();
  model.backward(
    state!,
    outputs.map((o, s) => Float32Array.from(o.tokenLogps, (_, t) => 0.1 * (s + 1) - 0.01 * t)),
    grads,
  );
  return { logps: outputs.map((o) => o.tokenLogps), grads, bytes: model.workspaceBytes.train, state: state! };
}

/** Gradients equal, name by name, and none of them all zero. */
function assertSameGrads(got: Params, want: Params): void {
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [name, g] of want) {
    assert.ok(
      g.some((x) => x !== 0),
      `${name} has a gradient`,
    );
    assert.deepEqual(got.get(name), g, name);
  }
}

for (const backend of ["cpu", "ref"]) {
  describe(`activation recomputation on ${backend}`, () => {
    const keep = step(backend, false),
      again = step(backend, true);

    it("gives bitwise the same log-probs and gradients as keeping every activation", () => {
      keep.logps.forEach((l, s) => assert.deepEqual(again.logps[s], l, `sequence ${s}`));
      assertSameGrads(again.grads, keep.grads);
    });

    it("the LM head: logits cached for backward or recomputed chunk by chunk give bitwise the same results", () => {
      // 37 scored rows in chunks of 16 (the last one short), the logits kept for backward or recomputed there.
      const chunk = 16 * CONFIG.vocabSize,
        cached = step(backend, false, { chunk, cache: 37 * CONFIG.vocabSize }),
        recomputed = step(backend, false, { chunk, cache: 0 });
      assert.equal(cached.state.rows.length, 37);
      assert.equal(cached.state.logitsCached, true);
      assert.equal(recomputed.state.logitsCached, false);
      cached.logps.forEach((l, s) => assert.deepEqual(recomputed.logps[s], l, `sequence ${s}`));
      assertSameGrads(recomputed.grads, cached.grads);
      // Against one 37-row chunk: each row's logits and log-probs are the same bits (the GEMM is batch-invariant),
      // and so is every gradient but the head's own, whose sum over rows is added chunk by chunk.
      const head = "model.embed_tokens.weight";
      keep.logps.forEach((l, s) => assert.deepEqual(cached.logps[s], l, `sequence ${s}`));
      for (const [name, g] of keep.grads) {
        const got = cached.grads.get(name)!;
        if (name !== head) assert.deepEqual(got, g, name);
        else g.forEach((x, i) => assert.ok(Math.abs(got[i] - x) <= 1e-6 * (1 + Math.abs(x)), `${name}[${i}]`));
      }
    });

    it("keeps only the layer inputs, and the workspace is measurably smaller", () => {
      assert.equal(again.state.acts.length, 0);
      assert.equal(again.state.inputs?.length, CONFIG.numLayers);
      assert.equal(keep.state.inputs, undefined);
      // 6 layers: all activations (4C + 2·qd + 2·kvd + 3·FF + NH + 2 = 408 floats/token/layer) against one
      // reused set plus one input per layer (C = 32): the workspace must shrink by well over half.
      assert.ok(again.bytes < 0.5 * keep.bytes, `${again.bytes} bytes with recomputation vs ${keep.bytes} without`);
    });
  });
}
