// The evaluation report's pieces: rates with intervals as text, and the side-by-side table — a seeded sample that
// takes prompts whose answers differ first, with answers escaped and each order's verdict named.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { combineOrders, type PairOutcome } from "../../src/eval/pairwise.js";
import { rateText, sampleIndices, sideBySide } from "../../src/eval/report.js";

describe("eval report", () => {
  it("prints a rate in % with its interval", () => {
    assert.equal(rateText(0.6125, { lo: 0.5, hi: 0.70049 }), "61.3 [50.0, 70.0]");
    assert.equal(rateText(null, null), "–");
  });

  it("samples reproducibly, preferred items first, in order", () => {
    assert.deepEqual(sampleIndices(10, 3, 4), sampleIndices(10, 3, 4));
    assert.deepEqual(
      sampleIndices(10, 2, 4, (i) => i === 7 || i === 2),
      [2, 7],
    );
    assert.equal(sampleIndices(3, 10, 0).length, 3);
  });

  it("shows the prompts whose answers differ, escaped, with both orders' verdicts", () => {
    const o = (i: number, output: string): PairOutcome => ({
      instruction: `q${i}`,
      output,
      baseline: "same",
      model_first: output === "same" ? "tie" : "A",
      baseline_first: output === "same" ? "tie" : "A",
      preference: combineOrders(output === "same" ? "tie" : "A", output === "same" ? "tie" : "A"),
      replies: [],
    });
    const html = sideBySide(
      [o(0, "same"), o(1, "same"), o(2, "<b>x</b>"), o(3, "same")],
      { model: "sso", baseline: "base" },
      1,
    );
    assert.ok(html.includes("q2") && !html.includes("q0"), html);
    assert.ok(html.includes("&lt;b&gt;x&lt;/b&gt;"));
    assert.ok(html.includes("<b>tie</b><br>model shown first: model<br>baseline shown first: baseline"), html);
  });
});
