// The issue-20 protocol's model selection (tools/principle-gap.ts pickByGap): the largest x+ − plain gap among the
// candidates, a tie within 0.1 point going to the smaller corpus; an unmeasured candidate is an error.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type GapRow, pickByGap } from "../../tools/principle-gap.js";

const row = (model: string, gap: number) => ({ model, gap }) as GapRow;

describe("principle-gap selection rule", () => {
  it("picks the largest gap, the smaller corpus within 0.1 point, and only among the candidates", () => {
    const rows = [row("shipped", 40), row("12k", 3), row("16k", 7.95), row("20k", 8), row("24k", 5)];
    assert.equal(pickByGap(rows, ["12k", "16k", "20k", "24k"]), "16k");
    assert.equal(pickByGap(rows, ["12k", "20k", "24k"]), "20k");
    assert.equal(pickByGap([row("a", -2), row("b", -1)], ["a", "b"]), "b");
    assert.throws(() => pickByGap(rows, ["12k", "32k"]), /candidate 32k was not measured/);
  });
});
