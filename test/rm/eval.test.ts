// rm eval's summary as a pure function: accuracy with ties apart, per subset, and RewardBench's example-count
// weighted sections; the noisy set's label noise; the experiment's binarisation of sampled answers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sampledPairs } from "../../src/demo/rm-experiment.js";
import { REWARDBENCH_SECTIONS, summarizeRewardEval } from "../../src/rm/eval.js";
import { type WorldPair, withLabelNoise } from "../../src/rm/world-pairs.js";
import { Rng } from "../../src/tensor/rng.js";
import { writeAnswer } from "../../src/world/answers.js";
import { trainPrompts, type WorldPrompt } from "../../src/world/world.js";

describe("rm eval summary", () => {
  it("counts ties apart (not correct) and weights RewardBench subsets by its example counts", () => {
    const items = [
      { chosen: 1, rejected: 0, subset: "math-prm" },
      { chosen: 0, rejected: 1, subset: "math-prm" },
      { chosen: 2, rejected: 1, subset: "hep-go" },
      { chosen: 1, rejected: 1, subset: "donotanswer" },
      { chosen: 3, rejected: 1, subset: "mine" },
    ];
    const s = summarizeRewardEval(items);
    assert.deepEqual([s.overall.n, s.overall.correct, s.overall.ties, s.overall.accuracy], [5, 3, 1, 0.6]);
    assert.deepEqual(s.subsets["math-prm"].accuracy, 0.5);
    assert.equal(s.subsets.donotanswer.ties, 1);
    // Reasoning = (984 · 0.5 + 164 · 1) / (984 + 164); Safety = donotanswer's 0; the score is their mean.
    const reasoning = (984 * 0.5 + 164) / (984 + 164);
    assert.ok(Math.abs(s.sections.Reasoning - reasoning) < 1e-12);
    assert.equal(s.sections.Safety, 0);
    assert.ok(Math.abs(s.score! - reasoning / 2) < 1e-12);
    assert.equal(REWARDBENCH_SECTIONS.Reasoning["math-prm"], 984);
    const ci = s.overall.ci!;
    assert.ok(ci.lo <= 0.6 && 0.6 <= ci.hi && ci.lo >= 0 && ci.hi <= 1);
    assert.deepEqual(summarizeRewardEval(items, 3), summarizeRewardEval(items, 3)); // seeded
  });

  it("label noise flips about the asked share and adds the asked number of tie pairs", () => {
    const pairs: WorldPair[] = Array.from({ length: 2000 }, (_, i) => ({
      prompt: `${i}`,
      chosen: "a",
      rejected: "b",
      scores: [1, 0],
    }));
    const ties: WorldPair[] = Array.from({ length: 1000 }, (_, i) => ({
      prompt: `t${i}`,
      chosen: "c",
      rejected: "d",
      scores: [0.5, 0.5],
    }));
    const noisy = withLabelNoise(pairs, ties, { flip: 0.25, ties: 0.2, seed: 1 });
    assert.equal(noisy.length, 2000 + 400);
    const flipped = noisy.slice(0, 2000).filter((p) => p.chosen === "b").length;
    assert.ok(Math.abs(flipped - 500) < 4 * Math.sqrt(2000 * 0.25 * 0.75), `${flipped} flipped`);
    assert.ok(noisy.slice(2000).every((p) => p.prompt.startsWith("t")));
  });
});

describe("rm experiment pairs", () => {
  it("binarises sampled answers as UltraFeedback does: a best-rated chosen, a lower-rated rejected; all-equal gives a tie", () => {
    const prompts = trainPrompts(0, 30)
      .filter((p) => p.task.family === "arith")
      .slice(0, 3);
    assert.equal(prompts.length, 3);
    const rng = new Rng(1);
    const good = (p: WorldPrompt) => writeAnswer(p, [], rng),
      bad = (p: WorldPrompt) => writeAnswer(p, ["Accuracy", "Logicality"], rng);
    const answers = [
      [bad(prompts[0]), good(prompts[0]), bad(prompts[0]), "I cannot say."],
      [good(prompts[1]), `${good(prompts[1])} `, good(prompts[1])],
      [bad(prompts[2]), bad(prompts[2])],
    ];
    const { pairs, ties } = sampledPairs(answers, prompts, 0);
    assert.equal(pairs.length, 1);
    assert.equal(pairs[0].chosen, answers[0][1]);
    assert.ok(pairs[0].scores[0] > pairs[0].scores[1]);
    assert.ok([answers[0][0], answers[0][2], answers[0][3]].includes(pairs[0].rejected));
    assert.deepEqual(
      ties.map((t) => t.prompt).sort(),
      [prompts[1].text, prompts[2].text].filter((_, i) => new Set(answers[i + 1]).size > 1).sort(),
    );
  });
});
