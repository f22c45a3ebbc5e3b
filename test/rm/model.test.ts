// The reward model over the decoder: forwardRows/backwardRows with the score head and the Bradley–Terry loss
// against finite differences (ref backend) and against the ref backend (cpu); batch invariance, bit for bit; the
// reward of a padded batch equals the hand-pooled last real token; sequence-classification folders round-trip
// with transformers' key names and config fields; a causal LM is refused by loadRewardModel.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel, loadModel, saveModel } from "../../src/model/folder.js";
import type { Model } from "../../src/model/model.js";
import { readSafetensors } from "../../src/model/safetensors.js";
import type { TokenPair } from "../../src/rm/data.js";
import { scoreForward } from "../../src/rm/head.js";
import { loadRewardModel, rewardModelFromCausal, rewards } from "../../src/rm/model.js";
import { rmStep } from "../../src/rm/train.js";
import { packageRoot } from "../../src/util/package-root.js";
import { assertClose, tempDir } from "../helpers.js";

const DIR = join(packageRoot(), "test", "fixtures", "golden", "tiny-qwen2");
const PAD = 0;
const rm = (backend: string): Model => rewardModelFromCausal(loadModel(DIR, getBackend(backend)), PAD, 5);
const pair = (chosen: number[], rejected: number[], margin = 0): TokenPair => ({
  pair: { source: "test", prompt: [], chosen: "", rejected: "", margin },
  chosen,
  rejected,
});
const PAIRS = [pair([3, 14, 15, 9, 26, 5], [3, 14, 15, 2]), pair([35, 8, 11], [35, 8, 12, 40, 41], 0.5)];
const lossOf = (m: Model): number =>
  rmStep(m, m.newGrads(), PAIRS, { microBatch: 2, centerRewards: 0.05 }).metrics.loss;

describe("reward model", () => {
  it("the gradient of the Bradley–Terry loss matches finite differences on the ref backend", () => {
    const m = rm("ref"),
      grads = m.newGrads();
    rmStep(m, grads, PAIRS, { microBatch: 2, centerRewards: 0.05 });
    // Float32 forward: central differences with a step of 1e-2 on the largest-gradient entries of a few tensors.
    const names = [
      "score.weight",
      "model.norm.weight",
      "model.layers.1.mlp.down_proj.weight",
      "model.layers.0.self_attn.q_proj.bias",
      "model.embed_tokens.weight",
    ];
    for (const name of names) {
      const p = m.params.get(name)!,
        g = grads.get(name)!;
      const order = Array.from(g.keys())
        .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
        .slice(0, 3);
      for (const i of order) {
        const keep = p[i],
          h = 1e-2;
        p[i] = keep + h;
        const up = lossOf(m);
        p[i] = keep - h;
        const down = lossOf(m);
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        assert.ok(
          Math.abs(fd - g[i]) <= 0.01 * Math.abs(g[i]) + 1e-6,
          `${name}[${i}]: analytic ${g[i]}, finite differences ${fd}`,
        );
      }
    }
  });

  it("the cpu backend's loss and gradients match the ref backend's", () => {
    const [a, b] = [rm("ref"), rm("cpu")];
    const [ga, gb] = [a.newGrads(), b.newGrads()];
    const la = rmStep(a, ga, PAIRS, { microBatch: 1, centerRewards: 0 }).metrics.loss;
    const lb = rmStep(b, gb, PAIRS, { microBatch: 2, centerRewards: 0 }).metrics.loss;
    assert.ok(Math.abs(la - lb) < 1e-5, `loss ${la} vs ${lb}`);
    for (const [name, g] of ga) assertClose(gb.get(name)!, g, { rtol: 1e-3, atol: 1e-6 }, name);
  });

  it("a sequence's reward alone equals its reward inside a batch, bit for bit (cpu)", () => {
    const m = rm("cpu");
    const seqs = [[3, 14, 15, 9, 26, 5], [35, 8], [9, 7, 9, 3, 2, 38, 46, 26, 43, 3], [4]];
    const batch = rewards(m, seqs);
    seqs.forEach((s, i) => assert.equal(rewards(m, [s])[0], batch[i], `sequence ${i}`));
    const { hidden: hb } = m.forwardRows(
      seqs.map((ids) => ({ ids, row: ids.length - 1 })),
      { forBackward: true },
    );
    const { hidden: h1 } = m.forwardRows([{ ids: seqs[2], row: seqs[2].length - 1 }], { forBackward: true });
    assert.deepEqual(hb.subarray(2 * 48, 3 * 48), h1);
  });

  it("the reward of a right-padded batch is the score of each row's last real token, computed by hand", () => {
    const m = rm("cpu"),
      C = m.config.hiddenSize,
      score = m.params.get("score.weight")!;
    const real = [
      [3, 14, 15, 9, 26, 5],
      [35, 8],
      [9, 7, 9, 3],
    ];
    const L = 6,
      padded = real.map((r) => [...r, ...Array(L - r.length).fill(PAD)]);
    const got = rewards(m, padded);
    real.forEach((r, i) => {
      // Every position's final hidden state of the unpadded sequence; take the last one, dot with score.
      const all = m.forwardRows(r.map((_, t) => ({ ids: r, row: t }))).hidden;
      const h = all.subarray((r.length - 1) * C, r.length * C);
      let byHand = 0;
      for (let c = 0; c < C; c++) byHand += h[c] * score[c];
      assert.ok(Math.abs(got[i] - byHand) < 1e-5, `row ${i}: ${got[i]} vs ${byHand}`);
    });
    assert.equal(scoreForward(new Float32Array([1, 2]), new Float32Array([3, 4]), 1, 2)[0], 11);
  });

  it("saves as Qwen2ForSequenceClassification (score.weight [1, hidden], no lm_head, one label, pad_token_id) and loads back", () => {
    const m = rm("cpu"),
      dir = join(tempDir(), "rm");
    saveModel(m, dir, { dtype: "F32" });
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.deepEqual(cfg.architectures, ["Qwen2ForSequenceClassification"]);
    assert.equal(cfg.num_labels, 1);
    assert.deepEqual(cfg.id2label, { "0": "LABEL_0" });
    assert.equal(cfg.pad_token_id, PAD);
    const t = readSafetensors(join(dir, "model.safetensors"));
    assert.deepEqual(t.get("score.weight")!.shape, [1, 48]);
    assert.ok(!t.has("lm_head.weight"));
    const back = loadRewardModel(dir, "cpu");
    for (const [name, p] of m.params) assert.deepEqual(back.params.get(name), p, name);
    const seqs = [
      [3, 14, 15],
      [35, 8, 2],
    ];
    assert.deepEqual(rewards(back, seqs), rewards(m, seqs));
  });

  it("loads a Skywork-style Llama RM folder (id2label only, no num_labels) and refuses other label counts", () => {
    const raw = {
      architectures: ["LlamaForSequenceClassification"],
      model_type: "llama",
      vocab_size: 50,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      id2label: { "0": "LABEL_0" },
      label2id: { LABEL_0: 0 },
      pad_token_id: 3,
    };
    const dir = join(tempDir(), "skywork");
    saveModel(initModel(parseConfig(raw), 1, getBackend("cpu")), dir, { dtype: "BF16" });
    const m = loadRewardModel(dir, "cpu");
    assert.ok(m.config.scoreHead);
    assert.deepEqual(
      [...m.params.keys()].filter((k) => !k.startsWith("model.")),
      ["score.weight"],
    );
    assert.ok(Number.isFinite(rewards(m, [[1, 2, 3]])[0]));
    assert.throws(() => parseConfig({ ...raw, id2label: undefined, label2id: undefined }), /num_labels: 2 labels/);
    assert.throws(() => parseConfig({ ...raw, num_labels: 3 }), /num_labels: 3 labels/);
  });

  it("a causal LM folder is refused with a one-line error saying to train or convert a reward model", () => {
    assert.throws(() => loadRewardModel(DIR, "cpu"), /Qwen2ForCausalLM is not a reward model.*sso rm train/);
    assert.throws(() => rm("cpu").forward([{ ids: [1, 2] }]), /score head, no LM head/);
  });
});
