// The reward head and loss as pure functions: transformers' pooling rule, the score head's backward and the
// Bradley–Terry loss's derivatives against finite differences (float64), and hand-computed values.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bradleyTerry, poolRow, scoreBackward, scoreForward } from "../../src/rm/head.js";
import { Rng } from "../../src/tensor/rng.js";
import { gradcheck, rand64 } from "../helpers.js";

describe("reward head", () => {
  it("pools the rightmost token that is not padding, as transformers does (index 0 when all are padding)", () => {
    assert.equal(poolRow([5, 6, 7, 0, 0], 0), 2); // right padding
    assert.equal(poolRow([0, 0, 5, 6, 7], 0), 4); // left padding
    assert.equal(poolRow([5, 0, 6, 0], 0), 2); // a pad id inside the text does not end it
    assert.equal(poolRow([0, 0, 0], 0), 0);
    assert.equal(poolRow([5, 6, 0], undefined), 2); // no pad_token_id: the last token
  });

  it("the score head's backward matches finite differences in hidden and score", () => {
    const rng = new Rng(7),
      S = 3,
      C = 5;
    const hidden = rand64(rng, S * C),
      score = rand64(rng, C);
    gradcheck(
      "score head",
      { hidden, score },
      () => scoreForward(hidden, score, S, C),
      (dr) => {
        const dHidden = new Float64Array(S * C),
          dScore = new Float64Array(C);
        scoreBackward(dHidden, dScore, dr, hidden, score, S, C);
        return { hidden: dHidden, score: dScore };
      },
      rng,
    );
  });

  it("Bradley–Terry with margin and centering: derivatives match finite differences", () => {
    const h = 1e-6;
    for (const [w, l, m, c] of [
      [0.3, -0.2, 0, 0],
      [-1.5, 2, 0.5, 0.01],
      [40, -40, 0, 0.1],
      [-40, 40, 1, 0],
    ]) {
      const g = bradleyTerry(w, l, m, c);
      const dw = (bradleyTerry(w + h, l, m, c).loss - bradleyTerry(w - h, l, m, c).loss) / (2 * h);
      const dl = (bradleyTerry(w, l + h, m, c).loss - bradleyTerry(w, l - h, m, c).loss) / (2 * h);
      assert.ok(Math.abs(g.dChosen - dw) < 1e-6 * Math.max(1, Math.abs(dw)), `dChosen at ${[w, l, m, c]}`);
      assert.ok(Math.abs(g.dRejected - dl) < 1e-6 * Math.max(1, Math.abs(dl)), `dRejected at ${[w, l, m, c]}`);
    }
  });

  it("Bradley–Terry values: log 2 at a tie, −log σ(d − margin), centering adds c·(r_w + r_l)², no overflow", () => {
    assert.equal(bradleyTerry(1, 1).loss, Math.log(2));
    assert.ok(Math.abs(bradleyTerry(2, 0.5, 0.5).loss - Math.log1p(Math.exp(-1))) < 1e-15);
    assert.ok(Math.abs(bradleyTerry(1, 0, 0, 0.5).loss - (Math.log1p(Math.exp(-1)) + 0.5)) < 1e-15);
    assert.ok(Math.abs(bradleyTerry(-800, 0).loss - 800) < 1e-9); // softplus(800), not Infinity
    assert.equal(bradleyTerry(800, 0).loss, 0);
  });
});
