// The SSO objective: base losses at known points, a record computed by hand, every derivative (including the path
// through W) against finite differences for every preset and option, batch-size invariance, and the preset table.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BASE_LOSSES,
  type ObjectiveConfig,
  PRESETS,
  pairsNeeded,
  type RecordLogps,
  sigmoid,
  ssoObjective,
} from "../../src/sso/objective.js";
import { PAIR_NAMES as PAIRS, type Pair } from "../../src/sso/pairs.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertClose } from "../helpers.js";

function randomRecord(rng: Rng): RecordLogps {
  const r: RecordLogps = {};
  for (const p of PAIRS) {
    const n = 3 + rng.int(20);
    r[p] = { policy: -n * (0.5 + rng.uniform() * 2), ref: -n * (0.5 + rng.uniform() * 2), n };
  }
  return r;
}

/** Central differences of the batch loss with respect to each policy log-prob sum. */
function numericGrads(
  records: RecordLogps[],
  c: ObjectiveConfig,
  f = (rs: RecordLogps[]) => ssoObjective(rs, c).loss,
): Partial<Record<Pair, number>>[] {
  const eps = 1e-5;
  return records.map((_r, i) => {
    const out: Partial<Record<Pair, number>> = {};
    for (const p of pairsNeeded(c)) {
      const at = (d: number) =>
        f(records.map((q, j) => (j === i ? { ...q, [p]: { ...q[p]!, policy: q[p]!.policy + d } } : q)));
      out[p] = (at(eps) - at(-eps)) / (2 * eps);
    }
    return out;
  });
}

const close = (a: number, b: number, label: string) => assertClose([a], [b], { rtol: 1e-6, atol: 1e-9 }, label);

describe("SSO objective", () => {
  it("ipo loss is zero at the margin 1/(2β), with zero slope; dpo is log 2 at h = 0 with slope −β/2", () => {
    assert.deepEqual(BASE_LOSSES.ipo(1 / (2 * 0.1), 0.1), [0, 0]);
    const [l, d] = BASE_LOSSES.dpo(0, 0.2);
    close(l, Math.log(2), "dpo loss");
    close(d, -0.1, "dpo slope");
    close(BASE_LOSSES.dpo(-1000, 0.5)[0], 500, "dpo is stable for large negative margins");
  });

  it("one record by hand: W·(L + θ·G) with IPO on per-token averages", () => {
    const r: RecordLogps = {
      x_chosen: { policy: -4, ref: -5, n: 2 },
      x_rejected: { policy: -9, ref: -6, n: 3 },
      pos_chosen: { policy: -2, ref: -3, n: 2 },
      pos_rejected: { policy: -12, ref: -9, n: 3 },
      neg_raw: { policy: -8, ref: -8, n: 4 },
      neg_chosen: { policy: -6, ref: -4, n: 2 },
    };
    const beta = 0.1,
      theta = 0.1,
      alpha = 0.5,
      target = 1 / (2 * beta);
    const L = ((-4 + 5) / 2 - (-9 + 6) / 3 - target) ** 2; // h = 0.5 + 1 = 1.5
    const Lpos = ((-2 + 3) / 2 - (-12 + 9) / 3 - target) ** 2;
    const Lneg = ((-8 + 8) / 4 - (-6 + 4) / 2 - target) ** 2;
    const W = sigmoid(-(alpha * (-4 / 2) + (1 - alpha) * (-9 / 3)));
    const o = ssoObjective([r], PRESETS.sso);
    close(o.parts.L, L, "L");
    close(o.parts.G, Lpos + Lneg, "G");
    close(o.parts.W, W, "W");
    close(o.loss, W * (L + theta * (Lpos + Lneg)), "loss");
    close(
      ssoObjective([r], { ...PRESETS.sso, weightScope: "steering" }).loss,
      L + W * theta * (Lpos + Lneg),
      "steering scope",
    );
    close(ssoObjective([r], PRESETS.pbaa).loss, L, "pbaa is plain IPO on the plain prompt");
    close(
      ssoObjective([r], { ...PRESETS.sso, gamma: 0.5 }).loss,
      W * (L + theta * (Lpos + Lneg)) + 0.5 * (4 / 2),
      "SFT term",
    );
    const dpoH = -4 + 5 - (-9 + 6);
    close(ssoObjective([r], PRESETS.dpo).loss, Math.log1p(Math.exp(-beta * dpoH)), "dpo uses sums");
  });

  const variants: [string, ObjectiveConfig][] = [
    ...Object.entries(PRESETS),
    ["sso steering scope", { ...PRESETS.sso, weightScope: "steering" }],
    ["sso with SFT", { ...PRESETS.sso, gamma: 0.3 }],
    ["sso α=0.66 β=0.2", { ...PRESETS.sso, alpha: 0.66, beta: 0.2 }],
    ["sso-dpo steering scope", { ...PRESETS["sso-dpo"], weightScope: "steering" }],
  ];
  for (const [name, c] of variants) {
    it(`${name}: every derivative (through W too) matches finite differences`, () => {
      const rng = new Rng(name.length * 7919);
      const records = [randomRecord(rng), randomRecord(rng), randomRecord(rng)];
      const { grads } = ssoObjective(records, c),
        num = numericGrads(records, c);
      records.forEach((_, i) => {
        for (const p of pairsNeeded(c))
          assertClose([grads[i][p] ?? 0], [num[i][p]!], { rtol: 1e-5, atol: 1e-8 }, `record ${i} ${p}`);
        assert.deepEqual(
          Object.keys(grads[i]).sort(),
          [...pairsNeeded(c)].sort(),
          "grads cover exactly the pairs used",
        );
      });
    });
  }

  it("a detached W gives the gradient of W₀·(L + θG) with W₀ held constant", () => {
    const rng = new Rng(5);
    const records = [randomRecord(rng)];
    const W0 = ssoObjective(records, PRESETS.sso).parts.W;
    const noW = { ...PRESETS.sso, useWeight: false };
    const num = numericGrads(records, noW, (rs) => W0 * ssoObjective(rs, noW).loss)[0];
    const { grads } = ssoObjective(records, { ...PRESETS.sso, detachWeight: true });
    for (const p of pairsNeeded(noW)) assertClose([grads[0][p]!], [num[p]!], { rtol: 1e-5, atol: 1e-8 }, p);
    assert.notEqual(grads[0].x_chosen, ssoObjective(records, PRESETS.sso).grads[0].x_chosen);
  });

  it("a batch of N has the mean loss of N batches of one and 1/N of each record's gradients", () => {
    const rng = new Rng(9);
    const records = Array.from({ length: 5 }, () => randomRecord(rng));
    for (const c of [PRESETS.sso, PRESETS["sso-dpo"], PRESETS["sso-v2-generator"]]) {
      const batch = ssoObjective(records, c),
        singles = records.map((r) => ssoObjective([r], c));
      close(batch.loss, singles.reduce((s, o) => s + o.loss, 0) / 5, "loss");
      close(batch.parts.W, singles.reduce((s, o) => s + o.parts.W, 0) / 5, "W");
      records.forEach((_, i) => {
        for (const p of pairsNeeded(c)) close(batch.grads[i][p]!, singles[i].grads[0][p]! / 5, `record ${i} ${p}`);
      });
    }
  });

  it("the preset table: ablations switch off exactly what their names say", () => {
    assert.deepEqual(Object.keys(PRESETS).sort(), [
      "dpo",
      "ipo",
      "pbaa",
      "sso",
      "sso-backdoor",
      "sso-dpo",
      "sso-no-g",
      "sso-no-w",
      "sso-v2-generator",
    ]);
    const s = PRESETS.sso;
    assert.deepEqual(
      [s.base, s.beta, s.theta, s.alpha, s.useWeight, s.weightScope, s.detachWeight, s.steering],
      ["ipo", 0.1, 0.1, 0.5, true, "all", false, "sso"],
    );
    assert.equal(PRESETS["sso-no-w"].useWeight, false);
    assert.equal(PRESETS["sso-no-g"].steering, "none");
    assert.equal(PRESETS["sso-backdoor"].steering, "backdoor");
    assert.equal(PRESETS["sso-dpo"].base, "dpo");
    assert.deepEqual(pairsNeeded(PRESETS.pbaa), ["x_chosen", "x_rejected"]);
    assert.deepEqual(pairsNeeded(PRESETS.sso), [
      "x_chosen",
      "x_rejected",
      "pos_chosen",
      "pos_rejected",
      "neg_chosen",
      "neg_raw",
    ]);
    assert.deepEqual(pairsNeeded(PRESETS["sso-backdoor"]), [
      "x_chosen",
      "x_rejected",
      "pos_chosen",
      "pos_rejected",
      "neg_chosen",
      "neg_rejected",
    ]);
    const g = PRESETS["sso-v2-generator"];
    assert.deepEqual([g.base, g.useWeight, g.gamma, g.generator], ["dpo", false, 0.1, true]);
  });

  it("a record missing a pair the configuration needs is an error naming the pair", () => {
    const r = randomRecord(new Rng(3));
    delete r.neg_raw;
    assert.throws(() => ssoObjective([r], PRESETS.sso), /neg_raw/);
    assert.doesNotThrow(() => ssoObjective([r], PRESETS.pbaa));
  });
});
