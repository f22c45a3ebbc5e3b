// Golden parity: the whole model on every backend against a float64 PyTorch twin (tools/make_golden.py) on two
// tiny random models — Llama with llama3 RoPE scaling and GQA, Qwen2 with q/k/v bias, tied embeddings and GQA.
// Checked: logits, loss, every parameter's gradient (relative error in the max norm ≤ 1e-4) and the losses of
// 5 AdamW steps (≤ 1e-4 relative).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Backend } from "../../src/backends/backend.js";
import { probeBackends } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import type { Model } from "../../src/model/model.js";
import { readSafetensors } from "../../src/model/safetensors.js";
import { packageRoot } from "../../src/util/package-root.js";
import { assertRelMax } from "../helpers.js";

const FIXTURES = join(packageRoot(), "test", "fixtures", "golden");
const REL = 1e-4;

interface Golden {
  sequences: number[][];
  loss: number;
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  adamw_losses: number[];
}

/** Mean next-token cross-entropy of the batch, its per-token gradients, and what backward needs. */
function lossAndGrads(
  model: Model,
  seqs: number[][],
): { loss: number; grads: Map<string, Float32Array>; logits: Float32Array[] } {
  const { outputs, state } = model.forward(
    seqs.map((ids) => ({ ids })),
    { wantLogits: true, forBackward: true },
  );
  const count = outputs.reduce((s, o) => s + o.tokenLogps.length, 0);
  const loss = -outputs.reduce((s, o) => s + o.tokenLogps.reduce((a, b) => a + b, 0), 0) / count;
  const grads = model.newGrads();
  model.backward(
    state!,
    outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(-1 / count)),
    grads,
  );
  return { loss, grads, logits: outputs.map((o) => o.logits!) };
}

for (const fixture of ["tiny-llama", "tiny-qwen2"]) {
  const dir = join(FIXTURES, fixture);
  const golden = JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")) as Golden;
  const tensors = readSafetensors(join(dir, "golden.safetensors"));
  for (const { name, backend } of probeBackends()) {
    if (!backend) continue;
    const be: Backend = backend;
    describe(`golden parity: ${fixture} on ${name}`, () => {
      it("logits, loss and every parameter gradient match the PyTorch twin", () => {
        const model = loadModel(dir, be);
        const { loss, grads, logits } = lossAndGrads(model, golden.sequences);
        golden.sequences.forEach((ids, s) => {
          const V = model.config.vocabSize,
            want = tensors.get(`logits.${s}`)!.data.subarray(0, Math.max(0, ids.length - 1) * V);
          assertRelMax(logits[s], want, REL, `logits of sequence ${s}`);
        });
        assertRelMax([loss], [golden.loss], REL, "loss");
        assert.equal(grads.size, model.params.size);
        for (const [pname, g] of grads)
          assertRelMax(g, tensors.get(`grad.${pname}`)!.data, REL, `gradient of ${pname}`);
      });

      it("5 AdamW steps follow the PyTorch losses", () => {
        const model = loadModel(dir, be);
        const { lr, betas, eps, weight_decay } = golden.adamw;
        const losses: number[] = [];
        const moments = new Map<string, [Float32Array, Float32Array]>();
        for (let step = 1; step <= 5; step++) {
          const { loss, grads } = lossAndGrads(model, golden.sequences);
          losses.push(loss);
          for (const [pname, g] of grads) {
            const p = model.params.get(pname)!;
            if (!moments.has(pname)) moments.set(pname, [new Float32Array(p.length), new Float32Array(p.length)]);
            const m = moments.get(pname)!;
            be.adamw(p, g, m[0], m[1], p.length, {
              lr,
              beta1: betas[0],
              beta2: betas[1],
              eps,
              weightDecay: weight_decay,
              step,
            });
          }
        }
        losses.push(lossAndGrads(model, golden.sequences).loss);
        assertRelMax(losses, golden.adamw_losses, REL, "losses after 0..5 steps");
      });
    });
  }
}
