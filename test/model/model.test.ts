// Model-level behaviour beyond golden parity: packing never leaks between sequences, scoring a suffix equals the
// same positions of a full scoring, frozen parameters get no gradient and change nothing else, stale state is
// refused, and bad token ids are errors.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { packageRoot } from "../../src/util/package-root.js";
import { assertClose } from "../helpers.js";

const DIR = join(packageRoot(), "test", "fixtures", "golden", "tiny-qwen2");
const SEQS = [
  [3, 14, 15, 9, 26, 5],
  [35, 8],
  [9, 7, 9, 3, 2, 38, 46, 26, 43, 3],
];
const TOL = { rtol: 1e-5, atol: 1e-5 };

describe("model on the cpu backend", () => {
  const model = loadModel(DIR, getBackend("cpu"));

  it("a batch gives each sequence the log-probs it gets alone", () => {
    const batch = model.forward(SEQS.map((ids) => ({ ids }))).outputs;
    SEQS.forEach((ids, s) =>
      assertClose(batch[s].tokenLogps, model.forward([{ ids }]).outputs[0].tokenLogps, TOL, `sequence ${s}`),
    );
  });

  it("scoring from a later token returns exactly the tail of the full scoring", () => {
    const full = model.forward([{ ids: SEQS[2] }]).outputs[0].tokenLogps;
    const tail = model.forward([{ ids: SEQS[2], scoreFrom: 6 }]).outputs[0].tokenLogps;
    assert.equal(tail.length, SEQS[2].length - 6);
    assertClose(tail, full.subarray(5), TOL, "tail");
  });

  it("frozen parameters get no gradient and leave the others' gradients unchanged", () => {
    const grads = (patterns: string[]) => {
      const m = loadModel(DIR, getBackend("cpu"));
      m.freeze(patterns);
      const { outputs, state } = m.forward(
        SEQS.map((ids) => ({ ids })),
        { forBackward: true },
      );
      const g = m.newGrads();
      m.backward(
        state!,
        outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(1)),
        g,
      );
      return g;
    };
    const all = grads([]),
      some = grads(["model.embed_tokens.*", "model.layers.*.mlp.*"]);
    assert.ok(!some.has("model.embed_tokens.weight") && !some.has("model.layers.1.mlp.up_proj.weight"));
    assert.ok(some.has("model.layers.0.self_attn.q_proj.bias"));
    assert.equal(some.size, all.size - 1 - 3 * 2);
    for (const [name, g] of some) assertClose(g, all.get(name)!, TOL, name);
  });

  it("backward refuses a state from before the latest training forward", () => {
    const { outputs, state } = model.forward([{ ids: SEQS[0] }], { forBackward: true });
    model.forward([{ ids: SEQS[1] }], { forBackward: true });
    assert.throws(
      () => model.backward(state!, [new Float32Array(outputs[0].tokenLogps.length)], model.newGrads()),
      /stale/,
    );
  });

  it("token ids outside the vocabulary and bad scoreFrom are errors naming the sequence", () => {
    assert.throws(() => model.forward([{ ids: [1, 2] }, { ids: [1, 83] }]), /sequence 1: token 1 = 83/);
    assert.throws(() => model.forward([{ ids: [1, 2], scoreFrom: 0 }]), /sequence 0: scoreFrom 0/);
  });
});
