// The memory estimate against a measured peak: a child process builds a 21.8M-parameter model, runs one training
// step (forward, backward, AdamW) and reports its peak RSS; the estimate must lie within ±35% of it, with and
// without recomputation, and recomputation must measurably lower the real peak too.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../../src/util/package-root.js";

const SRC = join(packageRoot(), "dist", "src");
const CONFIG = {
  model_type: "qwen2",
  vocab_size: 16000,
  hidden_size: 384,
  intermediate_size: 1024,
  num_hidden_layers: 10,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: 1024,
  tie_word_embeddings: true,
};

// Weights from a cheap deterministic pattern (the seeded initialiser takes seconds at this size).
const CHILD = `
const { getBackend } = await import(${JSON.stringify(join(SRC, "backends", "index.js"))});
const { parseConfig } = await import(${JSON.stringify(join(SRC, "model", "config.js"))});
const { Model } = await import(${JSON.stringify(join(SRC, "model", "model.js"))});
const { numel, paramSpecs } = await import(${JSON.stringify(join(SRC, "model", "params.js"))});
const { estimateMemory, parameterSplit } = await import(${JSON.stringify(join(SRC, "model", "memory.js"))});
const { AdamW } = await import(${JSON.stringify(join(SRC, "train", "optimizer.js"))});
const recompute = process.argv[1] === "1";
const c = parseConfig(${JSON.stringify(CONFIG)});
const params = new Map(paramSpecs(c).map((s, i) => {
  const a = new Float32Array(numel(s.shape));
  for (let j = 0; j < a.length; j++) a[j] = (((j * 7 + i) % 101) - 50) * 4e-4;
  return [s.name, a];
}));
const m = new Model(c, params, getBackend("cpu"));
const seqs = Array.from({ length: 4 }, (_, s) => ({
  ids: Array.from({ length: 96 }, (_, t) => (t * 31 + s * 7) % c.vocabSize),
  scoreFrom: 40,
}));
const grads = m.newGrads();
const opt = new AdamW(m.backend, m.params, grads.keys(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 });
const { outputs, state } = m.forward(seqs, { forBackward: true, recompute });
m.backward(state, outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(0.01)), grads);
opt.update(grads, 1e-4);
const est = estimateMemory(c, { ...parameterSplit(c), train: { tokens: 4 * 96, rows: 4 * 56, recompute } });
console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, estimate: est.total }));
`;

function measure(recompute: boolean): { rss: number; estimate: number } {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD, recompute ? "1" : "0"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("memory estimate vs measured peak RSS (21.8M parameters, one training step)", () => {
  it("lies within ±35% of the child's peak RSS, with and without recomputation", () => {
    const keep = measure(false),
      again = measure(true);
    for (const [label, m] of [
      ["keeping activations", keep],
      ["recomputing", again],
    ] as const) {
      const ratio = m.estimate / m.rss;
      assert.ok(
        ratio > 0.65 && ratio < 1.35,
        `${label}: estimate ${(m.estimate / 2 ** 20).toFixed(0)} MB vs peak RSS ${(m.rss / 2 ** 20).toFixed(0)} MB`,
      );
    }
    assert.ok(again.rss < keep.rss - 30 * 2 ** 20, `recomputing ${again.rss} vs keeping ${keep.rss} bytes`);
  });
});
