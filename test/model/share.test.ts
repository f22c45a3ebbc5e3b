// Shared prompt prefixes through the whole model, on ref (the oracle) and cpu: a batch of SSO-shaped sequences (three
// prompts of different lengths, several responses each, one empty, one prompt nobody shares) gives the same token
// log-probs with sharePrompts as without, bit for bit, and the same parameter gradients within float tolerance, for a
// random tiny Qwen2 (GQA, q/k/v bias); explicit prefixes score tokens inside the prompt too; bad prefixes are refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel } from "../../src/model/folder.js";
import type { Model, SequenceInput } from "../../src/model/model.js";
import { sharePrompts } from "../../src/model/share.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertRelMax } from "../helpers.js";

const CONFIG = parseConfig({
  model_type: "qwen2",
  vocab_size: 61,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  tie_word_embeddings: false,
});

/** Three records' worth of sequences: prompts of 9, 14 and 5 tokens with 2–3 responses each (one empty), plus a
 *  sequence whose prompt nobody shares. Interleaved, as a micro-batch of records is not. */
function batch(seed: number): SequenceInput[] {
  const rng = new Rng(seed),
    ids = (n: number) => Array.from({ length: n }, () => rng.int(CONFIG.vocabSize));
  const [a, b, c, lone] = [ids(9), ids(14), ids(5), ids(6)];
  const whole = (prompt: number[], n: number): SequenceInput => ({
    ids: [...prompt, ...ids(n)],
    scoreFrom: prompt.length,
  });
  return [whole(a, 6), whole(b, 3), whole(a, 11), whole(c, 4), whole(b, 0), whole(lone, 5), whole(c, 7), whole(b, 8)];
}

function forwardBackward(model: Model, seqs: SequenceInput[], sharePrompts: boolean) {
  const { outputs, state } = model.forward(seqs, { forBackward: true, sharePrompts });
  const rng = new Rng(5),
    grads = model.newGrads();
  model.backward(
    state!,
    outputs.map((o) => rng.normalArray(o.tokenLogps.length, 1)),
    grads,
  );
  return { logps: outputs.map((o) => Array.from(o.tokenLogps)), grads };
}

describe("sharePrompts", () => {
  it("packs each shared prompt once before its continuations and leaves a prompt nobody shares alone", () => {
    const seqs = batch(1),
      { seqs: packed, at, origin } = sharePrompts(seqs);
    const tokens = (s: readonly SequenceInput[]) => s.reduce((n, q) => n + q.ids.length, 0);
    assert.equal(tokens(seqs) - tokens(packed), 9 + 2 * 14 + 5); // each shared prompt saved (copies − 1) times
    assert.deepEqual(
      packed.map((q) => q.prefix ?? -1),
      [-1, 0, -1, 2, 0, -1, 5, 2, -1, 5, 2],
    );
    assert.deepEqual(at, [1, 3, 4, 6, 7, 8, 9, 10]);
    assert.deepEqual(origin, [0, 0, 1, 1, 2, 3, 3, 4, 5, 6, 7]);
    assert.deepEqual(packed[8], seqs[5]);
    assert.deepEqual(packed[7], { ids: [], scoreFrom: 14, prefix: 2 });
  });
});

for (const name of ["ref", "cpu"] as const) {
  describe(`shared prompt prefixes on ${name}`, () => {
    const model = initModel(CONFIG, 7, getBackend(name));

    it("log-probs equal the unshared ones bit for bit, gradients within float tolerance", () => {
      const seqs = batch(2);
      const un = forwardBackward(model, seqs, false),
        sh = forwardBackward(model, seqs, true);
      assert.deepEqual(sh.logps, un.logps);
      assert.equal(sh.logps[4].length, 0); // the empty response
      assert.equal(sh.grads.size, un.grads.size);
      for (const [k, g] of un.grads) assertRelMax(sh.grads.get(k)!, g, 1e-5, k);
    });

    it("an explicit prefix may score tokens inside the prompt (scoreFrom counts over the whole sequence)", () => {
      const rng = new Rng(3),
        ids = Array.from({ length: 12 }, () => rng.int(CONFIG.vocabSize));
      const whole = model.forward([{ ids, scoreFrom: 2 }]).outputs[0].tokenLogps;
      const split = model.forward([
        { ids: ids.slice(0, 7), scoreFrom: 7 },
        { ids: ids.slice(7), scoreFrom: 2, prefix: 0 },
      ]).outputs;
      assert.equal(split[0].tokenLogps.length, 0);
      assert.deepEqual(Array.from(split[1].tokenLogps), Array.from(whole));
    });

    it("refuses a prefix that is not an earlier sequence without a prefix", () => {
      const s = (prefix?: number): SequenceInput => ({ ids: [1, 2, 3], prefix });
      assert.throws(() => model.forward([s(1), s()]), /sequence 0: prefix 1 is not an earlier sequence/);
      assert.throws(() => model.forward([s(), s(0), s(1)]), /sequence 2: prefix 1 is not an earlier/);
      assert.throws(() => sharePrompts([s(), s(0)]), /sequence 1 already has a prefix/);
    });

    it("errors name the caller's sequence and token when prompts are shared", () => {
      const seqs = batch(4),
        V = CONFIG.vocabSize;
      const withToken = (q: SequenceInput, t: number): SequenceInput => {
        const ids = Array.from(q.ids);
        ids[t] = V;
        return { ...q, ids };
      };
      const bad = seqs[6].ids.length - 1;
      seqs[6] = withToken(seqs[6], bad); // in a response
      for (const sharePrompts of [false, true])
        assert.throws(
          () => model.forward(seqs, { sharePrompts }),
          new RegExp(`^Error: sequence 6: token ${bad} = ${V} is outside the vocabulary`),
        );
      seqs[0] = withToken(seqs[0], 0); // in a prompt sequences 0 and 2 share
      seqs[2] = withToken(seqs[2], 0);
      for (const sharePrompts of [false, true])
        assert.throws(() => model.forward(seqs, { sharePrompts }), new RegExp(`^Error: sequence 0: token 0 = ${V}`));
    });
  });
}
