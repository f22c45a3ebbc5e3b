// The per-family read-out (src/demo/families.ts, tools/family-table.ts) on a hand-computed case: two seeds, four
// prompts (fact, arith, arith, list; no harmful), base / sso / pbaa per-prompt scores.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { familyOf, familyPairedRows, familyRows } from "../../src/demo/families.js";
import type { DemoResult } from "../../src/demo/report.js";
import { familyMarkdown, readDemoResults } from "../../tools/family-table.js";

const ids = ["fact:capital:France#0", "arith:1+1#0", "arith:2+2#4", "list:seasons#1"];
const seed = (base: number[], sso: number[], pbaa: number[]): DemoResult =>
  ({
    base: {},
    features: [],
    prompt_ids: ids,
    base_scores: base,
    runs: [
      { method: "sso", evals: [], steps: [], scores: sso },
      { method: "pbaa", evals: [], steps: [], scores: pbaa },
    ],
  }) as unknown as DemoResult;
const results = [
  seed([1, 0, 0.5, 1], [1, 1, 0.5, 0.5], [0.5, 1, 1, 0.5]),
  seed([0, 1, 1, 1], [1, 0, 1, 1], [1, 0, 0.5, 1]),
];

const tmp = mkdtempSync(join(tmpdir(), "sso-families-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("per-family read-out", () => {
  it("reads the family from the prompt id", () => {
    assert.equal(familyOf("arith:3+4#1"), "arith");
    assert.equal(familyOf("harmful:steal a car#7"), "harmful");
    assert.throws(() => familyOf("nofamily#0"), { message: 'families: prompt id "nofamily#0" names no family' });
  });

  it("gives each model's pass rate per family, mean ± std over seeds (hand-computed)", () => {
    // base: all (62.5, 75), fact (100, 0), arith (25, 100), list (100, 100); sso arith (75, 50); pbaa arith (100, 25).
    assert.deepEqual(familyRows(results), [
      ["model", "all (4)", "fact (1)", "list (1)", "arith (2)", "harmful (0)"],
      ["base", "68.8 ± 8.8", "50.0 ± 70.7", "100.0 ± 0.0", "62.5 ± 53.0", "–"],
      ["sso", "75.0 ± 0.0", "100.0 ± 0.0", "75.0 ± 35.4", "62.5 ± 17.7", "–"],
      ["pbaa", "68.8 ± 8.8", "75.0 ± 35.4", "75.0 ± 35.4", "62.5 ± 53.0", "–"],
    ]);
  });

  it("gives the paired difference against SSO per family with the seeds × prompts bootstrap (hand-computed)", () => {
    const rows = familyPairedRows(results);
    const row = (family: string, method: string) => rows.find((r) => r[0] === family && r[1] === method);
    assert.deepEqual(rows[0], ["family", "method", "minus sso (points)", "95% CI", "seeds × prompts"]);
    assert.equal(rows.length, 1 + 5 * 2);
    // all, pbaa − sso: seed 1 (−50, 0, 50, 0), seed 2 (0, 0, −50, 0): −50 / 8 cells.
    assert.equal(row("all", "pbaa")?.[2], "-6.25");
    // fact: one prompt, seeds −50 and 0: the resampled means are −50, −25 or 0, so the interval is [−50, 0].
    assert.deepEqual(row("fact", "pbaa"), ["fact", "pbaa", "-25.00", "[-50.00, 0.00]", "2 × 1"]);
    assert.deepEqual(row("list", "base"), ["list", "base", "25.00", "[0.00, 50.00]", "2 × 1"]);
    assert.deepEqual(row("list", "pbaa"), ["list", "pbaa", "0.00", "[0.00, 0.00]", "2 × 1"]);
    assert.equal(row("arith", "pbaa")?.[2], "0.00");
    assert.deepEqual(row("harmful", "base"), ["harmful", "base", "–", "–", "2 × 0"]);
    const other = seed([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]);
    other.prompt_ids = [...ids].reverse();
    assert.throws(() => familyPairedRows([results[0], other]), /same held-out prompts/);
  });

  it("reads finished demo folders (a seeds summary or one seed's demo.json) and refuses others", () => {
    const multi = join(tmp, "multi"),
      one = join(tmp, "one"),
      empty = join(tmp, "empty");
    for (const d of [multi, one, empty]) mkdirSync(d, { recursive: true });
    writeFileSync(join(multi, "summary.json"), JSON.stringify({ options: {}, results }));
    writeFileSync(join(one, "demo.json"), JSON.stringify({ options: { seed: 2 }, ...results[1] }));
    assert.deepEqual(readDemoResults(multi), results);
    assert.deepEqual(readDemoResults(one), [results[1]]);
    assert.throws(() => readDemoResults(empty), {
      message: `${empty}: neither summary.json nor demo.json (not a finished demo run)`,
    });
    const md = familyMarkdown([...readDemoResults(multi)], "sso", [multi]);
    assert.match(md, /\| arith \| pbaa \| 0\.00 \|/);
    assert.throws(() => familyMarkdown(results, "nope", [multi]), /--reference: no method nope/);
  });
});
