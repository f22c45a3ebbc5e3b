// Shared prompt prefixes in SSO's two uses, on a tiny random model (cpu backend): the reference scores of the seven
// (prompt variant, response) pairs that synthesis computes are the same bits with and without sharing, and training
// with train.sharePrefixes on follows the unshared run's loss curve (and ends with its weights) within float
// tolerance. The kernels and the model with prefixes are tested in test/backends and test/model.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { scoreItems } from "../../src/model/score.js";
import { sharePrompts } from "../../src/model/share.js";
import { PAIR_NAMES } from "../../src/sso/pairs.js";
import type { SsoRecord } from "../../src/sso/record.js";
import { recordSequences, rescoreReference, trainSso } from "../../src/sso/train.js";
import { TrainConfig } from "../../src/sso/train-config.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { assertRelMax, tempDir } from "../helpers.js";
import { makeTinyModel, sampleRecord } from "./helpers.js";

const DIR = makeTinyModel(11, { hidden: 32, intermediate: 64 });
const tok = Tokenizer.fromDir(DIR);

/** Four records with system prompts and queries of different lengths; token counts as the tokenizer gives them. */
function records(): SsoRecord[] {
  const base = sampleRecord();
  return [0, 1, 2, 3].map((i) => {
    const r: SsoRecord = {
      ...base,
      id: `${i}`,
      prompt: [{ role: "user", content: `Question ${i}: ${"why ".repeat(2 + 3 * i)}?` }],
      system_pos: `Be accurate and brief. ${"Keep to the facts. ".repeat(i + 1)}`,
      system_neg: `Be vague. ${"Wander off. ".repeat(3 - i)}`,
      chosen: [{ role: "assistant", content: `Answer ${i}.`.repeat(i + 1) }],
      rejected: [{ role: "assistant", content: `Maybe ${i}, maybe not.` }],
      raw: [{ role: "assistant", content: `${i}` }],
    };
    for (const k of ["chosen", "rejected", "raw"] as const)
      r[`${k}_n_tokens`] = tok.encodeChat(r.prompt, r[k][0].content).responseIds.length;
    return r;
  });
}

describe("shared prompt prefixes in SSO", () => {
  const model = loadModel(DIR, getBackend("cpu"));
  const recs = rescoreReference(model, tok, records());

  it("synthesis's reference scores of the seven pairs are the same bits shared and unshared", () => {
    const items = recs.flatMap((r) =>
      recordSequences(tok, r, PAIR_NAMES).map((s) => ({
        promptIds: s.ids.slice(0, s.scoreFrom),
        responseIds: s.ids.slice(s.scoreFrom),
      })),
    );
    const shared = scoreItems(model, items, { sharePrompts: true }),
      unshared = scoreItems(model, items, { sharePrompts: false });
    assert.deepEqual(shared, unshared);
    // Small batches split some records' prompts across batches: still the same bits.
    assert.deepEqual(scoreItems(model, items, { maxBatchTokens: 150 }), unshared);
  });

  it("a shared prompt counts once against the scoring batch's token budget", () => {
    const seqs = recordSequences(tok, recs[0], PAIR_NAMES),
      items = seqs.map((s) => ({ promptIds: s.ids.slice(0, s.scoreFrom), responseIds: s.ids.slice(s.scoreFrom) }));
    const packed = sharePrompts(seqs).seqs.reduce((n, q) => n + q.ids.length, 0),
      whole = seqs.reduce((n, q) => n + q.ids.length, 0);
    const batches = (sharePrompts: boolean) => {
      const sizes: [number, number][] = [];
      scoreItems(model, items, { maxBatchTokens: packed, sharePrompts, onBatch: (n, t) => sizes.push([n, t]) });
      return sizes;
    };
    assert.deepEqual(batches(true), [[7, whole]]);
    assert.ok(batches(false).length > 1);
  });

  it("training with sharePrefixes follows the unshared loss curve and ends with its weights", () => {
    const run = (sharePrefixes: boolean) => {
      const m = loadModel(DIR, getBackend("cpu")),
        cfg = TrainConfig.parse({ lr: 3e-3, batchSize: 2, microBatch: 2, epochs: 2, saveEvery: 0, sharePrefixes });
      const out = tempDir("sso-share-train-");
      const steps = trainSso(m, tok, recs, cfg, { out: join(out, "run"), sourceDir: DIR, resume: false });
      return { losses: steps.map((s) => s.loss), norms: steps.map((s) => s.grad_norm), params: m.params };
    };
    const on = run(true),
      off = run(false);
    assert.equal(on.losses.length, 4);
    assertRelMax(on.losses, off.losses, 1e-5, "loss per step");
    assertRelMax(on.norms, off.norms, 1e-4, "gradient norm per step");
    assert.ok(on.losses[3] !== on.losses[0], "the model changed");
    for (const [name, p] of off.params) assertRelMax(on.params.get(name)!, p, 1e-4, name);
  });
});
