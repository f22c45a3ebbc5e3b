// The evaluation statistics against values computed by hand: the plain win rate; the length-controlled win rate on
// a design where the logistic regression has a closed form (two length groups of equal size and opposite length
// difference: the fit passes through each group's mean preference, so the LC win rate is σ of the mean of the two
// logits); bootstrap intervals reproducible from their seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bootstrapInterval,
  fitLogistic,
  lengthControlled,
  meanWithInterval,
  pairedBootstrap,
  quantile,
  sampleStd,
  sigmoid,
} from "../../src/eval/stats.js";

const logit = (p: number) => Math.log(p / (1 - p));

describe("length-controlled win rate", () => {
  // Five items where the model's answer is 100 chars against the baseline's 50 (mean preference 0.8), five where
  // it is 50 against 100 (mean preference 0.4).
  const longer = [1, 1, 1, 1, 0].map((p) => ({ preference: p, modelLength: 100, baselineLength: 50 }));
  const shorter = [1, 0, 0.5, 0.5, 0].map((p) => ({ preference: p, modelLength: 50, baselineLength: 100 }));
  const items = [...longer, ...shorter];

  it("the plain win rate is the mean preference, ties counting half: (4 + 2) / 10", () => {
    assert.equal(meanWithInterval(items.map((i) => i.preference)).value, 0.6);
  });

  it("is σ((logit 0.8 + logit 0.4) / 2) = √(8/3) / (1 + √(8/3)) with the length term removed", () => {
    const fit = lengthControlled(items)!;
    const byHand = Math.sqrt(8 / 3) / (1 + Math.sqrt(8 / 3)); // 0.620204…
    assert.ok(Math.abs(fit.lc - byHand) < 1e-5, `${fit.lc} vs ${byHand}`);
    assert.ok(Math.abs(fit.weights.model - (logit(0.8) + logit(0.4)) / 2) < 1e-5);
    // The length feature is tanh(Δ/s), Δ = baseline − model = ∓50, s = 50·√(10/9) (sample std): tanh(√0.9).
    const t = Math.tanh(Math.sqrt(0.9));
    assert.ok(Math.abs(fit.weights.length - (logit(0.4) - logit(0.8)) / (2 * t)) < 1e-5, `${fit.weights.length}`);
    assert.equal(fit.weights.instruction, 0);
  });

  it("equals the plain win rate when lengths do not differ, and stays finite when the model wins everything", () => {
    const same = [1, 0, 1, 1].map((p) => ({ preference: p, modelLength: 10, baselineLength: 10 }));
    assert.ok(Math.abs(lengthControlled(same)!.lc - 0.75) < 1e-6);
    const all = lengthControlled(items.map((i) => ({ ...i, preference: 1 })))!;
    assert.ok(all.lc > 0.999 && all.lc <= 1 && Number.isFinite(all.weights.model));
    assert.equal(lengthControlled([]), null);
  });

  it("uses an instruction difficulty when the items carry one: the fit's gradient is zero", () => {
    const withD = items.map((it, i) => ({ ...it, difficulty: [-1, 0.5, 2, 0, -0.5][i % 5] }));
    const fit = lengthControlled(withD)!;
    assert.notEqual(fit.weights.instruction, 0);
    const s = sampleStd(withD.map((x) => x.baselineLength - x.modelLength));
    const X = withD.map((x) => [1, Math.tanh((x.baselineLength - x.modelLength) / s), x.difficulty]);
    const theta = [fit.weights.model, fit.weights.length, fit.weights.instruction];
    for (let k = 0; k < 3; k++) {
      const g = X.reduce(
        (a, x, i) => a + (sigmoid(x[0] * theta[0] + x[1] * theta[1] + x[2] * theta[2]) - withD[i].preference) * x[k],
        0,
      );
      assert.ok(Math.abs(g) < 1e-5, `gradient ${k}: ${g}`);
    }
    const byHand = withD.reduce((a, x) => a + sigmoid(theta[0] + theta[2] * x.difficulty), 0) / withD.length;
    assert.ok(Math.abs(fit.lc - byHand) < 1e-12);
  });

  it("logistic regression on soft labels recovers the logit of a constant label", () => {
    const theta = fitLogistic([[1], [1], [1]], [0.9, 0.9, 0.9], 0);
    assert.ok(Math.abs(theta[0] - logit(0.9)) < 1e-9);
  });
});

describe("bootstrap intervals", () => {
  const xs = Array.from({ length: 40 }, (_, i) => ((i * 0.37) % 1) ** 2);

  it("are reproducible from their seed and differ between seeds", () => {
    const a = meanWithInterval(xs, { seed: 7 }).ci!,
      b = meanWithInterval(xs, { seed: 7 }).ci!,
      c = meanWithInterval(xs, { seed: 8 }).ci!;
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(a.lo < m && m < a.hi && a.lo >= 0 && a.hi < 1, `${a.lo} ${m} ${a.hi}`);
  });

  it("of a constant statistic is that constant; of no items, null", () => {
    assert.deepEqual(
      bootstrapInterval(5, () => 3, { samples: 50 }),
      { lo: 3, hi: 3 },
    );
    assert.equal(
      bootstrapInterval(0, () => 3),
      null,
    );
  });

  it("quantiles interpolate between order statistics as numpy does", () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([1, 2, 3, 4], 0.025), 1.075);
    assert.equal(sampleStd([1, 3]), Math.SQRT2);
  });
});

describe("paired bootstrap over seeds × prompts", () => {
  it("is the mean over cells, reproducible from its seed, different for another seed", () => {
    const diffs = [
      [0.1, -0.3, 0.5, 0, 0.2],
      [0.4, 0.1, -0.2, 0.3, 0],
      [0, 0, 0.6, -0.1, 0.1],
    ];
    const a = pairedBootstrap(diffs, { samples: 2000, seed: 3 });
    assert.ok(Math.abs(a.value! - 1.7 / 15) < 1e-12);
    assert.deepEqual(pairedBootstrap(diffs, { samples: 2000, seed: 3 }), a);
    assert.notDeepEqual(pairedBootstrap(diffs, { samples: 2000, seed: 4 }).ci, a.ci);
    assert.ok(a.ci!.lo < a.value! && a.value! < a.ci!.hi);
  });

  it("matches the hand-computed distribution: one seed, prompts 0 and 1 → mean 0, ½, 1 with odds ¼, ½, ¼", () => {
    // Resampling two prompts gives {0,0}, {0,1}, {1,0}, {1,1}: the 2.5 % and 97.5 % quantiles are 0 and 1, and the
    // 40 % and 60 % quantiles (level 0.2) both ½.
    assert.deepEqual(pairedBootstrap([[0, 1]], { samples: 4000 }), { value: 0.5, ci: { lo: 0, hi: 1 } });
    assert.deepEqual(pairedBootstrap([[0, 1]], { samples: 4000, level: 0.2 }).ci, { lo: 0.5, hi: 0.5 });
  });

  it("resamples seeds as units: two seeds at 0 and 1 over four prompts give [0, 1], not the cells' narrower interval", () => {
    // Two-way: the seed draw alone decides the mean (0, ½, 1 with odds ¼, ½, ¼), so the interval is [0, 1]. Eight
    // independent cells would put the 2.5 % quantile at ⅛ (P(mean = 0) = 1/256 < 2.5 %).
    const diffs = [
      [0, 0, 0, 0],
      [1, 1, 1, 1],
    ];
    assert.deepEqual(pairedBootstrap(diffs, { samples: 4000 }), { value: 0.5, ci: { lo: 0, hi: 1 } });
    const cells = diffs.flat(),
      cellCi = bootstrapInterval(cells.length, (idx) => idx.reduce((a, i) => a + cells[i], 0) / idx.length, {
        samples: 4000,
      })!;
    assert.ok(cellCi.lo >= 0.1, `cell-level interval ${JSON.stringify(cellCi)}`);
  });

  it("of a constant difference is that constant; of nothing, null; ragged input is an error", () => {
    assert.deepEqual(
      pairedBootstrap([
        [0.25, 0.25],
        [0.25, 0.25],
      ]),
      { value: 0.25, ci: { lo: 0.25, hi: 0.25 } },
    );
    assert.deepEqual(pairedBootstrap([]), { value: null, ci: null });
    assert.throws(() => pairedBootstrap([[1, 2], [3]]), /same number of prompts/);
  });
});
