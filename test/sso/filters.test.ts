// The filters of synthesis: each per-record reason on its own and in order, counted per reason; the log-prob
// ordering filter on hand-made numbers for each of the spec's inequalities and dataset-mean conditions.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FinishReason } from "../../src/sample/generate.js";
import { type DropReason, type LogpColumns, logpOrderFilter, responseFilter } from "../../src/sso/filters.js";
import type { PerResponse } from "../../src/sso/pairs.js";

const eos: PerResponse<FinishReason> = { chosen: "eos", rejected: "eos", raw: "eos" };
const keep = { dropTruncated: false },
  strict = { dropTruncated: true };

describe("response filters", () => {
  it("keeps three distinct, non-empty answers", () => {
    assert.equal(responseFilter({ chosen: "good", rejected: "bad", raw: "plain" }, eos, strict), null);
  });

  it("drops y+ = y- (after trimming)", () => {
    assert.equal(responseFilter({ chosen: " same\n", rejected: "same", raw: "other" }, eos, keep), "pos_equals_neg");
  });

  it("drops y+ = y° and y- = y°", () => {
    assert.equal(responseFilter({ chosen: "a", rejected: "b", raw: "a " }, eos, keep), "equals_raw");
    assert.equal(responseFilter({ chosen: "a", rejected: "b", raw: "\tb" }, eos, keep), "equals_raw");
  });

  it("drops an empty or whitespace-only answer, whichever it is, before comparing", () => {
    for (const text of [
      { chosen: "", rejected: "", raw: "x" },
      { chosen: "a", rejected: "  \n", raw: "x" },
      { chosen: "a", rejected: "b", raw: "" },
    ]) {
      assert.equal(responseFilter(text, eos, keep), "empty", JSON.stringify(text));
    }
  });

  it("drops an answer cut by the token limit only when dropTruncated is on", () => {
    for (const kind of ["chosen", "rejected", "raw"] as const) {
      const finish = { ...eos, [kind]: "length" as const };
      assert.equal(responseFilter({ chosen: "a", rejected: "b", raw: "c" }, finish, strict), "truncated", kind);
      assert.equal(responseFilter({ chosen: "a", rejected: "b", raw: "c" }, finish, keep), null, kind);
    }
    assert.equal(responseFilter({ chosen: "a", rejected: "b", raw: "c" }, { ...eos, chosen: "stop" }, strict), null);
  });

  it("per-reason counts over a set add up to the records dropped", () => {
    const set: [PerResponse<string>, PerResponse<FinishReason>][] = [
      [{ chosen: "a", rejected: "b", raw: "c" }, eos],
      [{ chosen: "a", rejected: "a", raw: "c" }, eos],
      [{ chosen: "a", rejected: "b", raw: "b" }, eos],
      [{ chosen: "", rejected: "b", raw: "c" }, eos],
      [
        { chosen: "a", rejected: "b", raw: "c" },
        { ...eos, raw: "length" },
      ],
      [{ chosen: "a", rejected: "a", raw: "a" }, eos],
    ];
    const counts: Partial<Record<DropReason, number>> = {};
    for (const [t, f] of set) {
      const r = responseFilter(t, f, strict);
      if (r) counts[r] = (counts[r] ?? 0) + 1;
    }
    assert.deepEqual(counts, { pos_equals_neg: 2, equals_raw: 1, empty: 1, truncated: 1 });
  });
});

/** A record from average log-probs (10 tokens each): [y+|x+, y+|x, y+|x-], [y-|x-, y-|x, y-|x+]. */
function row(pos: [number, number, number], neg: [number, number, number]): LogpColumns {
  const n = 10;
  return {
    ref_pos_chosen_logps: pos[0] * n,
    ref_chosen_logps: pos[1] * n,
    ref_neg_chosen_logps: pos[2] * n,
    ref_neg_rejected_logps: neg[0] * n,
    ref_rejected_logps: neg[1] * n,
    ref_pos_rejected_logps: neg[2] * n,
    chosen_n_tokens: n,
    rejected_n_tokens: n,
  };
}

describe("log-prob ordering filter", () => {
  // Two well-ordered records: the first is above every mean, the second below; the mean conditions need both.
  const strong = row([-1, -2, -4], [-1, -2, -4]);
  const weak = row([-3.5, -4, -4.5], [-3.5, -4, -4.5]);

  it("keeps a record ordered on both sides and above every dataset mean", () => {
    assert.deepEqual(logpOrderFilter([strong, weak]), [null, "logp_below_mean"]);
  });

  it("drops a record breaking any of the four inequalities", () => {
    const broken = [
      row([-2, -2, -4], [-1, -2, -4]), // avg(y+|x+) > avg(y+|x) fails (equal)
      row([-1, -4, -3], [-1, -2, -4]), // avg(y+|x) > avg(y+|x-) fails
      row([-1, -2, -4], [-3, -2, -4]), // avg(y-|x-) > avg(y-|x) fails
      row([-1, -2, -4], [-1, -5, -4]), // avg(y-|x) > avg(y-|x+) fails
    ];
    for (const b of broken) assert.equal(logpOrderFilter([strong, weak, b])[2], "logp_order", JSON.stringify(b));
  });

  it("drops a record whose avg(y+|x) or avg(y-|x) is below the dataset mean, keeps one exactly at it", () => {
    // avg(y+|x): -2 and -3 (mean -2.5); avg(y-|x): -2 and -2 (the first is exactly at the mean); margins 4 vs 3.
    assert.deepEqual(logpOrderFilter([row([-1, -2, -5], [-1, -2, -5]), row([-1, -3, -4], [-1, -2, -4])]), [
      null,
      "logp_below_mean",
    ]);
    // The same with the roles of y+ and y- swapped.
    assert.deepEqual(logpOrderFilter([row([-1, -2, -5], [-1, -2, -5]), row([-1, -2, -4], [-1, -3, -4])]), [
      null,
      "logp_below_mean",
    ]);
  });

  it("drops a record whose margin is not strictly above the mean margin", () => {
    const a = row([-1, -2, -4], [-1, -2, -4]);
    assert.deepEqual(logpOrderFilter([a, a]), ["logp_below_mean", "logp_below_mean"]); // margins equal their means
    const wider = row([-1, -2, -4.5], [-0.5, -2, -5]); // margins 3.5 and 4.5 against a's 3 and 3
    assert.deepEqual(logpOrderFilter([a, wider]), ["logp_below_mean", null]);
  });

  it("divides by each response's own token count", () => {
    const r = {
      ...strong,
      chosen_n_tokens: 20,
      ref_pos_chosen_logps: -20,
      ref_chosen_logps: -40,
      ref_neg_chosen_logps: -80,
    };
    assert.deepEqual(logpOrderFilter([r, weak]), [null, "logp_below_mean"]);
    const flipped = { ...strong, rejected_n_tokens: 1 }; // avg(y-|x-) = -10, avg(y-|x) = -20, avg(y-|x+) = -40: still ordered
    assert.equal(logpOrderFilter([flipped, weak])[0], "logp_below_mean"); // but avg(y-|x) = -20 < mean -12
  });
});
