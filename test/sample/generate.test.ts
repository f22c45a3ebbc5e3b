// Batched KV-cache generation: greedy tokens equal the argmax of full-sequence logits step by step; sampled
// tokens do not depend on the batch size; every stop condition ends a sequence and is reported; sequences that
// finish leave the batch while waiting prompts take their slots.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { probeBackends } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import type { Model } from "../../src/model/model.js";
import { type GenerationRequest, generate } from "../../src/sample/generate.js";
import { argmax, type SamplingParams } from "../../src/sample/sampling.js";
import { packageRoot } from "../../src/util/package-root.js";

const DIR = join(packageRoot(), "test", "fixtures", "golden", "tiny-qwen2");
const PROMPTS = [
  [1, 2, 3],
  [4],
  [5, 6, 7, 8, 9, 10],
  [11, 12],
  [13, 14, 15, 16],
  [17],
  [18, 19, 20, 21, 22, 23, 24, 25],
  [26, 27],
];
const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0, maxNewTokens: 10, stop: [] };
const SAMPLED: SamplingParams = { temperature: 0.9, topP: 0.9, topK: 30, maxNewTokens: 12, stop: [] };
const decode = (ids: number[]): string => ids.map((t) => String.fromCharCode(97 + (t % 26))).join("");
const requests = (params: SamplingParams, seed = 0): GenerationRequest[] =>
  PROMPTS.map((p, i) => ({ promptIds: p, params, seed: seed + i }));

for (const { name, backend } of probeBackends()) {
  if (!backend) continue;
  const be: Backend = backend;
  describe(`generation on ${name}`, () => {
    const model: Model = loadModel(DIR, be);

    it("greedy tokens are the argmax of the model's logits at every step", () => {
      const res = generate(model, requests(GREEDY), { maxBatch: 3, eosIds: [], decode });
      PROMPTS.forEach((p, i) => {
        const all = [...p, ...res[i].tokens];
        const { outputs } = model.forward([{ ids: all, scoreFrom: p.length }], { wantLogits: true });
        const V = model.config.vocabSize,
          L = outputs[0].logits!;
        assert.equal(res[i].tokens.length, GREEDY.maxNewTokens);
        // Row t of the logits is the prediction for generated token t (made from everything before it).
        res[i].tokens.forEach((tok, t) =>
          assert.equal(tok, argmax(L.subarray(t * V, (t + 1) * V)), `request ${i} step ${t}`),
        );
      });
    });

    it("sampled tokens are the same at batch 1 and batch 8 under a fixed seed, and differ with another seed", () => {
      const one = generate(model, requests(SAMPLED), { maxBatch: 1, eosIds: [], decode });
      const eight = generate(model, requests(SAMPLED), { maxBatch: 8, eosIds: [], decode });
      const three = generate(model, requests(SAMPLED), { maxBatch: 3, eosIds: [], decode });
      assert.deepEqual(eight, one);
      assert.deepEqual(three, one);
      assert.notDeepEqual(generate(model, requests(SAMPLED, 100), { maxBatch: 8, eosIds: [], decode }), one);
    });

    it("end-of-sequence tokens, stop strings and the token limit each end a sequence and are reported", () => {
      const free = generate(model, requests(GREEDY), { maxBatch: 8, eosIds: [], decode });
      // Taking as eos id the first greedy token of request 0 that differs from all before it ends the request right
      // there; the eos token itself is not returned.
      const toks = free[0].tokens,
        j = toks.findIndex((t, i) => i > 0 && !toks.slice(0, i).includes(t));
      assert.ok(j > 0, "the fixture's greedy output should contain two distinct tokens");
      const withEos = generate(model, requests(GREEDY), { maxBatch: 8, eosIds: [toks[j]], decode });
      assert.deepEqual(withEos[0], { tokens: toks.slice(0, j), text: decode(toks.slice(0, j)), finishReason: "eos" });
      // A stop string made of request 2's tokens 4–5 cuts its text there.
      const stop = decode(free[2].tokens.slice(3, 5));
      const withStop = generate(
        model,
        [{ promptIds: PROMPTS[2], params: { ...GREEDY, stop: ["@@", stop] }, seed: 0 }],
        { maxBatch: 1, eosIds: [], decode },
      )[0];
      assert.equal(withStop.finishReason, "stop");
      assert.equal(withStop.text, decode(free[2].tokens).slice(0, decode(free[2].tokens).indexOf(stop)));
      assert.ok(free.every((r) => r.finishReason === "length" && r.tokens.length === GREEDY.maxNewTokens));
    });

    it("sequences of different lengths finish and leave the batch while waiting prompts join", () => {
      const mixed = PROMPTS.map((p, i) => ({
        promptIds: p,
        params: { ...SAMPLED, maxNewTokens: 1 + ((i * 5) % 11) },
        seed: i,
      }));
      const order: number[] = [];
      const batched = generate(model, mixed, { maxBatch: 3, eosIds: [], decode, onResult: (i) => order.push(i) });
      const alone = mixed.map((r) => generate(model, [r], { maxBatch: 1, eosIds: [], decode })[0]);
      assert.deepEqual(batched, alone);
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        PROMPTS.map((_, i) => i),
      );
      assert.notDeepEqual(
        order,
        PROMPTS.map((_, i) => i),
      ); // short ones overtake: they really left the batch
      batched.forEach((r, i) => assert.equal(r.tokens.length, mixed[i].params.maxNewTokens));
    });
  });
}
