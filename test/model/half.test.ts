// A BF16/F16 folder loaded with keep16 holds its matrices as 16-bit bits (no fp32 copy) and computes exactly what the
// same folder widened to fp32 computes: the same log-probs, logits, gradients through the frozen matrices and sampled
// tokens, bit for bit on `cpu` and on `ref`; and `sso score` on a BF16 folder writes the bytes its fp32 twin gets.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, saveModel } from "../../src/model/folder.js";
import type { Model } from "../../src/model/model.js";
import type { Params } from "../../src/model/params.js";
import { readSafetensors } from "../../src/model/safetensors.js";
import { generate } from "../../src/sample/generate.js";
import { isHalf, narrowToF16 } from "../../src/tensor/dtype.js";
import { makeTinyModel, runCli, tempDir } from "../helpers.js";

const SEQS = [
  { ids: [3, 14, 15, 9, 26, 5, 35, 8, 97, 93, 23] },
  { ids: [35, 8], scoreFrom: 1 },
  { ids: [9, 7, 9, 3, 2, 38, 46, 26, 43, 3, 83, 27, 95, 2, 88], scoreFrom: 4 },
];
const MATRICES = ["model.layers.*_proj.weight", "model.embed_tokens.weight", "lm_head.weight"];

function assertBitwise(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const x = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const y = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) assert.fail(`${what}: element ${i} differs: ${actual[i]} vs ${expected[i]}`);
}

/** The folder's weights rewritten as F16 (our writer does F32/BF16 only; the format is the same but the dtype). */
function rewriteAsF16(dir: string): void {
  const path = join(dir, "model.safetensors"),
    tensors = [...readSafetensors(path)].sort(([a], [b]) => (a < b ? -1 : 1));
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bits = new Uint16Array(t.data.length);
    narrowToF16(bits, t.data);
    header[name] = { dtype: "F16", shape: t.shape, data_offsets: [offset, offset + 2 * bits.length] };
    chunks.push(Buffer.from(bits.buffer));
    offset += 2 * bits.length;
  }
  const json = Buffer.from(JSON.stringify(header)),
    len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, ...chunks]));
}

/** Gradients of every fp32 tensor (norms, biases) through frozen matrices, for d(loss)/d(logp) = 1. */
function gradsThroughFrozen(model: Model): Params {
  model.freeze(MATRICES);
  const { outputs, state } = model.forward(SEQS, { forBackward: true });
  const grads = model.newGrads();
  model.backward(
    state!,
    outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(1)),
    grads,
  );
  return grads;
}

for (const [dtype, tied] of [
  ["bf16", true],
  ["bf16", false],
  ["f16", true],
] as const) {
  describe(`a ${dtype} folder (${tied ? "tied" : "untied"} LM head) kept 16-bit`, () => {
    let dir: string;
    before(() => {
      const src = makeTinyModel(11, { tie_word_embeddings: tied, vocab_size: 300 });
      dir = join(tempDir("sso-half-"), "model");
      saveModel(loadModel(src, getBackend("cpu")), dir, { dtype: "BF16", carryFrom: src });
      if (dtype === "f16") rewriteAsF16(dir);
    });

    it("holds every matrix as 16-bit bits and only vectors as fp32", () => {
      const m = loadModel(dir, getBackend("cpu"), { keep16: true });
      assert.ok(m.halves.size > 0);
      for (const [name, h] of m.halves) assert.equal(h.dtype, dtype, name);
      for (const [name, p] of m.params) assert.ok(p.length <= m.config.hiddenSize * 2, `${name} is fp32`);
      assert.equal(m.halves.has("lm_head.weight"), !tied);
      assert.ok(isHalf(m.weight("model.embed_tokens.weight")!));
      const wide = loadModel(dir, getBackend("cpu"));
      assert.equal(wide.halves.size, 0, "without keep16 the folder loads fp32 (training)");
      const bytes16 = [...m.halves.values()].reduce((s, h) => s + h.bits.byteLength, 0);
      const bytes32 = [...wide.params.values()].reduce((s, p) => s + p.byteLength, 0);
      assert.ok(bytes16 < 0.51 * bytes32, `${bytes16} of ${bytes32} bytes`);
    });

    for (const backend of ["cpu", "ref"])
      it(`${backend}: log-probs, logits and gradients through the frozen matrices equal the widened fp32 model's, bit for bit`, () => {
        const be = getBackend(backend);
        const half = loadModel(dir, be, { keep16: true }),
          wide = loadModel(dir, be);
        const a = half.forward(SEQS, { wantLogits: true }).outputs,
          b = wide.forward(SEQS, { wantLogits: true }).outputs;
        a.forEach((o, s) => {
          assertBitwise(o.tokenLogps, b[s].tokenLogps, `sequence ${s} log-probs`);
          assertBitwise(o.logits!, b[s].logits!, `sequence ${s} logits`);
        });
        const ga = gradsThroughFrozen(half),
          gb = gradsThroughFrozen(wide);
        assert.deepEqual([...ga.keys()].sort(), [...gb.keys()].sort());
        assert.ok(ga.has("model.norm.weight"));
        for (const [name, g] of ga) assertBitwise(g, gb.get(name)!, `gradient of ${name}`);
      });

    it("cpu: sampled generations (KV-cache decode, 1-2 rows per step) equal the widened model's", () => {
      const run = (m: Model) =>
        generate(
          m,
          [3, 9].map((n, i) => ({
            promptIds: SEQS[2].ids.slice(0, n),
            params: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 12, stop: [] },
            seed: i,
          })),
          { maxBatch: 2, eosIds: [], decode: (ids) => ids.join(" ") },
        ).map((r) => r.tokens);
      const be = getBackend("cpu");
      assert.deepEqual(run(loadModel(dir, be, { keep16: true })), run(loadModel(dir, be)));
    });
  });
}

describe("sso score on a BF16 folder", () => {
  it("writes the same bytes as on its fp32-widened twin", () => {
    const src = makeTinyModel(12),
      work = tempDir("sso-half-score-");
    const bf16 = join(work, "bf16"),
      f32 = join(work, "f32");
    saveModel(loadModel(src, getBackend("cpu")), bf16, { dtype: "BF16", carryFrom: src });
    saveModel(loadModel(bf16, getBackend("cpu")), f32, { dtype: "F32", carryFrom: src });
    const lines = SEQS.map((s) => ({ prompt_ids: s.ids.slice(0, 2), response_ids: s.ids.slice(2) }));
    writeFileSync(join(work, "in.jsonl"), `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    for (const m of [bf16, f32]) {
      // Beside the model folder, not in it: an output inside an input folder is refused (issue 30).
      const r = runCli("score", "--model", m, "--data", join(work, "in.jsonl"), "--out", `${m}.out.jsonl`);
      assert.equal(r.status, 0, r.stderr);
    }
    const out = readFileSync(`${bf16}.out.jsonl`, "utf8");
    assert.equal(out.trim().split("\n").length, lines.length);
    assert.equal(out, readFileSync(`${f32}.out.jsonl`, "utf8"));
  });
});
