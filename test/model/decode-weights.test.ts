// Decoding weights (the model's matrices as panels): a decoding forward from them gives bitwise the logits of the
// same forward from the weights themselves, on every backend, fp32 and 16-bit, for 1 to panelMaxRows() rows; the
// Decoder's logits at batch 1 (panels) equal those at batch 4 through the weights (the GEMM: panelMaxRows 0); the
// memory estimate counts exactly what is made.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { probeBackends } from "../../src/backends/index.js";
import { decodePanelsBytes, decodeWeights } from "../../src/model/decode-weights.js";
import { loadModel } from "../../src/model/folder.js";
import { attachLora, initLora, LoraSettings } from "../../src/model/lora.js";
import { Model } from "../../src/model/model.js";
import { type GenerationRequest, generate } from "../../src/sample/generate.js";
import { type Half, narrowToBf16, panelMaxRows, setPanelMaxRows } from "../../src/tensor/dtype.js";
import { Rng } from "../../src/tensor/rng.js";
import { packageRoot } from "../../src/util/package-root.js";

const DIR = join(packageRoot(), "test", "fixtures", "golden", "tiny-qwen2");

/** The logits rows each request's tokens were sampled from, in order, generating with `maxBatch` slots. */
function decodedLogits(model: Model, requests: GenerationRequest[], maxBatch: number): Float32Array[][] {
  const rows: Float32Array[][] = requests.map(() => []);
  generate(model, requests, {
    maxBatch,
    eosIds: [],
    decode: () => "",
    onToken: (i, _t, logits) => rows[i].push(logits.slice()),
  });
  return rows;
}

/** The model with its matrices (not norms or biases) as 16-bit halves. */
function withHalves(model: Model): Model {
  const params = new Map(model.params),
    halves = new Map<string, Half>();
  for (const [name, p] of model.params)
    if (name.endsWith("proj.weight") || name === "model.embed_tokens.weight") {
      const bits = new Uint16Array(p.length);
      narrowToBf16(bits, p);
      halves.set(name, { dtype: "bf16", bits });
      params.delete(name);
    }
  return new Model(model.config, params, model.backend, halves);
}

/** The model with an adapter on every module whose B is not zero (so that it changes the logits). */
function withLora(model: Model): Model {
  const s = LoraSettings.parse({ r: 2, alpha: 4 }),
    t = initLora(model.config, s, 3),
    rng = new Rng(4);
  for (const [name, x] of t) if (name.endsWith("lora_B.weight")) x.set(rng.normalArray(x.length, 0.05));
  attachLora(model, s, t, "test");
  return model;
}

for (const { name, backend } of probeBackends()) {
  if (!backend) continue;
  describe(`decoding weights on ${name}`, () => {
    const base = loadModel(DIR, backend);

    for (const [kind, model] of [
      ["fp32", base],
      ["bf16", withHalves(base)],
      ["bf16 with a LoRA adapter", withLora(withHalves(base))],
    ] as const)
      it(`${kind}: a forward of 1 to panelMaxRows() rows from the panels gives the weights' logits bitwise`, () => {
        const dw = decodeWeights(model);
        assert.ok(dw, "the tiny model's panels are under the limit");
        const c = model.config;
        assert.equal(dw.layers[0].qkv.N, (c.numHeads + 2 * c.numKvHeads) * c.headDim);
        assert.equal(dw.layers[0].gateUp.dtype, kind === "fp32" ? "f32" : "bf16");
        assert.equal(!!model.lora, kind.includes("LoRA"));
        assert.equal(panelMaxRows(), 12);
        for (const ids of [[5], [7, 9], [1, 2, 3, 4, 5, 6], [8, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]]) {
          const T = ids.length,
            cu = Int32Array.from([0, ...ids.map((_, i) => i + 1)]);
          const io = {
            shape: { cuSeqlens: cu, NH: c.numHeads, NKV: c.numKvHeads, HS: c.headDim, scale: 1 / Math.sqrt(c.headDim) },
            positions: new Int32Array(T),
            invFreq: model.invFreq,
          };
          const rows = Int32Array.from(ids, (_, i) => i);
          setPanelMaxRows(0); // the weights themselves, through the GEMM
          let want: Float32Array;
          try {
            want = model.logitsOfRows(Int32Array.from(ids), { ...io, panels: dw.layers }, rows, dw.head);
          } finally {
            setPanelMaxRows(12);
          }
          const got = model.logitsOfRows(Int32Array.from(ids), { ...io, panels: dw.layers }, rows, dw.head);
          assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `${T} row(s)`);
        }
      });

    it("decoding's logits at batch 1 (panels) equal those at batch 4 through the weights bitwise", () => {
      const params = { temperature: 0, topP: 1, topK: 0, maxNewTokens: 6, stop: [] };
      const requests = [[1, 2, 3], [4], [5, 6, 7, 8, 9], [10, 11]].map((promptIds, i) => ({
        promptIds,
        params,
        seed: i,
      }));
      const one = decodedLogits(base, requests, 1);
      setPanelMaxRows(0);
      let eight: Float32Array[][];
      try {
        eight = decodedLogits(base, requests, 4);
      } finally {
        setPanelMaxRows(12);
      }
      one.forEach((rows, i) => {
        assert.equal(rows.length, 6);
        rows.forEach((r, t) =>
          assert.deepEqual(new Uint32Array(r.buffer), new Uint32Array(eight[i][t].buffer), `request ${i} step ${t}`),
        );
      });
    });

    it("the memory estimate's panel bytes are what decodeWeights makes", () => {
      const dw = decodeWeights(base)!;
      const made = [...dw.layers.flatMap((l) => Object.values(l)), dw.head].reduce(
        (n, p) => n + 4 * p.panels.length,
        0,
      );
      assert.equal(decodePanelsBytes(base.config, 4), made);
    });
  });
}
