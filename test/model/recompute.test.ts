// Activation recomputation (forward({forBackward, recompute})): backward recomputes each layer from its saved input
// with the same kernels on the same inputs, so log-probs and every gradient are bitwise those of the path that
// keeps all activations — on both backends — while the training workspace holds far fewer bytes.
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

/** One training forward and backward (fresh model from the same seed); log-probs, gradients, workspace bytes. */
function step(backend: string, recompute: boolean) {
  const model = initModel(CONFIG, 11, getBackend(backend));
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

for (const backend of ["cpu", "ref"]) {
  describe(`activation recomputation on ${backend}`, () => {
    const keep = step(backend, false),
      again = step(backend, true);

    it("gives bitwise the same log-probs and gradients as keeping every activation", () => {
      keep.logps.forEach((l, s) => assert.deepEqual(again.logps[s], l, `sequence ${s}`));
      assert.deepEqual([...again.grads.keys()], [...keep.grads.keys()]);
      for (const [name, g] of keep.grads) {
        assert.ok(
          g.some((x) => x !== 0),
          `${name} has a gradient`,
        );
        assert.deepEqual(again.grads.get(name), g, name);
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
