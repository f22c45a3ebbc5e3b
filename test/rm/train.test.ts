// Training reward models: an RM trained on checker-labelled world pairs ranks held-out pairs clearly above chance;
// a run stopped after a checkpoint and resumed ends with the same bytes as an uninterrupted one; mixing weights
// and the data formats give the pairs they promise.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { mixPairs, readPairs, type TokenPair, tokenizePairs } from "../../src/rm/data.js";
import { rewardModelFromCausal, rewards } from "../../src/rm/model.js";
import { RmTrainConfig, trainRewardModel } from "../../src/rm/train.js";
import { pairLines, templatedPairs } from "../../src/rm/world-pairs.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { packageRoot } from "../../src/util/package-root.js";
import { heldOutPrompts, trainPrompts } from "../../src/world/world.js";
import { tempDir } from "../helpers.js";
import { sampleRecord } from "../sso/helpers.js";

const DEMO = join(packageRoot(), "models", "sso-demo");
const GOLDEN = join(packageRoot(), "test", "fixtures", "golden", "tiny-qwen2");

describe("reward-model training", () => {
  it("an RM trained on checker-labelled world pairs ranks ≥ 75% of held-out pairs correctly", () => {
    // Chance is 50%: with n ≥ 100 held-out pairs, P(Binomial(n, ½) ≥ 0.75·n) < 1e-6, so passing means it learned
    // the checkers' preferences, on prompts whose items never occur in training (world.ts splits by item).
    const tok = Tokenizer.fromDir(DEMO),
      skipped = { identical: 0, empty: 0, tooLong: 0 };
    const toTokens = (pairs: ReturnType<typeof templatedPairs>) =>
      tokenizePairs(
        tok,
        pairs.map((p, i) => ({
          source: `${i}`,
          prompt: [{ role: "user", content: p.prompt }],
          chosen: p.chosen,
          rejected: p.rejected,
          margin: 0,
        })),
        2048,
        skipped,
        "last_token",
      );
    const train = toTokens(templatedPairs(trainPrompts(0, 130), 1)),
      heldout = toTokens(templatedPairs(heldOutPrompts(0, 160), 2));
    assert.ok(heldout.length >= 100, `${heldout.length} held-out pairs`);
    const model = rewardModelFromCausal(loadModel(DEMO, getBackend("cpu")), tok.padId!, 0);
    const cfg = RmTrainConfig.parse({ lr: 2e-4, batchSize: 16, microBatch: 16, saveEvery: 0, warmupRatio: 0 });
    trainRewardModel(model, train, cfg, { out: tempDir(), sourceDir: DEMO, resume: false });
    const r = rewards(
      model,
      heldout.flatMap((p) => [p.chosen, p.rejected]),
    );
    const correct = heldout.filter((_, i) => r[2 * i] > r[2 * i + 1]).length;
    assert.ok(correct >= 0.75 * heldout.length, `${correct} of ${heldout.length} held-out pairs ranked correctly`);
  });

  it("stopped after a checkpoint and resumed, a run ends with the bytes of an uninterrupted one", () => {
    const pairs: TokenPair[] = Array.from({ length: 12 }, (_, i) => ({
      pair: { source: `${i}`, prompt: [], chosen: "", rejected: "", margin: i % 3 === 0 ? 0.5 : 0 },
      chosen: [3, 14, 15, (i * 7) % 80, 5],
      rejected: [3, 14, (i * 11) % 80, 2],
    }));
    const cfg = RmTrainConfig.parse({
      lr: 1e-3,
      batchSize: 4,
      microBatch: 3,
      saveEvery: 1,
      centerRewards: 0.01,
      epochs: 2,
    });
    const fresh = () => rewardModelFromCausal(loadModel(GOLDEN, getBackend("cpu")), 0, 9);
    const whole = tempDir(),
      split = tempDir();
    trainRewardModel(fresh(), pairs, cfg, { out: whole, sourceDir: GOLDEN, resume: false });
    assert.throws(
      () =>
        trainRewardModel(fresh(), pairs, cfg, {
          out: split,
          sourceDir: GOLDEN,
          resume: false,
          onStep: (m) => {
            if (m.step === 3) throw new Error("killed");
          },
        }),
      /step 3: killed; the last good checkpoint \(step 2\)/,
    );
    const resumed = trainRewardModel(loadModel(join(split, "checkpoint", "model"), getBackend("cpu")), pairs, cfg, {
      out: split,
      sourceDir: GOLDEN,
      resume: true,
    });
    assert.equal(resumed[0].step, 3);
    for (const f of ["model/model.safetensors", "model/config.json", "metrics.jsonl"]) {
      const a = readFileSync(join(whole, f)),
        b = readFileSync(join(split, f));
      assert.ok(f === "metrics.jsonl" || a.equals(b), `${f} differs`);
    }
    const strip = (t: string) =>
      t
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const { "tokens/s": _, ...m } = JSON.parse(l);
          return m;
        });
    assert.deepEqual(
      strip(readFileSync(join(split, "metrics.jsonl"), "utf8")),
      strip(readFileSync(join(whole, "metrics.jsonl"), "utf8")),
    );
  });

  it("reads SSO, TRL plain and conversational, implicit-prompt and RewardBench lines; skips and counts empty and identical pairs", () => {
    const dir = tempDir(),
      f = join(dir, "mixed.jsonl");
    const lines = [
      { prompt: "Hi?", chosen: "Hello.", rejected: "Go away." },
      {
        prompt: [{ role: "user", content: "Hi?" }],
        chosen: [{ role: "assistant", content: "Hello." }],
        rejected: [{ role: "assistant", content: "No." }],
        margin: 1,
      },
      {
        chosen: [
          { role: "user", content: "Q" },
          { role: "assistant", content: "A" },
        ],
        rejected: [
          { role: "user", content: "Q" },
          { role: "assistant", content: "B" },
        ],
      },
      { prompt: "What?", chosen: "x", rejected: "y", subset: "xstest-should-refuse", id: 7, chosen_model: "m" },
      { prompt: "Same?", chosen: "same", rejected: "same" },
      { prompt: "Empty?", chosen: "  ", rejected: "y" },
    ];
    writeFileSync(f, [...lines, sampleRecord()].map((l) => JSON.stringify(l)).join("\n"));
    const { pairs, skipped } = readPairs(f);
    const rec = sampleRecord(),
      sso = pairs.pop()!;
    assert.deepEqual(
      [sso.prompt, sso.chosen, sso.rejected],
      [rec.prompt, rec.chosen[0].content, rec.rejected[0].content],
    );
    const withX = readPairs(f, { contrastive: true }).pairs;
    assert.deepEqual(withX[withX.length - 1].prompt, [{ role: "system", content: rec.system_pos }, ...rec.prompt]);
    assert.deepEqual(skipped, { identical: 1, empty: 1, tooLong: 0 });
    assert.equal(pairs.length, 4);
    assert.deepEqual(pairs[1].prompt, [{ role: "user", content: "Hi?" }]);
    assert.equal(pairs[1].margin, 1);
    assert.deepEqual(pairs[2].prompt, [{ role: "user", content: "Q" }]);
    assert.equal(pairs[2].chosen, "A");
    assert.equal(pairs[3].subset, "xstest-should-refuse");
    const mixed = mixPairs([{ path: f, weight: 2.5 }], 0);
    assert.equal(mixed.pairs.length, 2 * 5 + Math.round(0.5 * 5)); // 5 pairs: 4 TRL/RewardBench + 1 SSO
    assert.deepEqual(mixPairs([{ path: f, weight: 2.5 }], 0).pairs, mixed.pairs); // seeded
  });

  it("world pairs are labelled by the checkers: the chosen answer passes more of the applicable features", () => {
    const pairs = templatedPairs(trainPrompts(3, 40), 3);
    assert.ok(pairs.length > 20);
    for (const p of pairs) assert.ok(p.scores[0] > p.scores[1], p.prompt);
    assert.equal(pairLines(pairs.slice(0, 2)).split("\n").filter(Boolean).length, 2);
  });
});
