// The resumable output of `sso synth`, without a model: chunks appended with their progress, a partial chunk cut
// off on reopening, a rerun with other inputs refused with the first difference, a foreign file refused, and the
// final ordering-filter swap recognised after a crash on either side of it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_LIBRARY } from "../../src/sso/features.js";
import { SynthOutput } from "../../src/sso/output.js";
import type { SsoRecord } from "../../src/sso/record.js";
import { applyLogpOrder, emptyCounts, type SynthCounts, zeroSeconds } from "../../src/sso/synth-summary.js";
import { fingerprintDifference } from "../../src/util/fingerprint.js";
import { tempDir } from "../helpers.js";
import { sampleRecord } from "./helpers.js";

const fp = { config: { seed: 1, sampling: { temperature: 0.7 } }, policy_hash: "abc" };
const fresh = () => join(tempDir("sso-out-"), "data.jsonl");
const counts = (prompts: number): SynthCounts => ({ ...emptyCounts(DEFAULT_LIBRARY), prompts });
const rec = (i: number, o: Partial<SsoRecord> = {}): SsoRecord => ({
  ...sampleRecord(),
  prompt_index: i,
  id: String(i),
  ...o,
});
const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as SsoRecord);

describe("resumable synthesis output", () => {
  it("appends chunks and reopens at the recorded prompt index with the recorded counts", () => {
    const path = fresh();
    const out = SynthOutput.open(path, fp, counts(0));
    assert.equal(out.next, 0);
    out.appendChunk([rec(0), rec(2)], 3, counts(3), zeroSeconds());
    out.appendChunk([], 6, counts(6), zeroSeconds());
    const again = SynthOutput.open(path, fp, counts(0));
    assert.equal(again.next, 6);
    assert.equal(again.counts.prompts, 6);
    assert.deepEqual(
      lines(path).map((r) => r.prompt_index),
      [0, 2],
    );
  });

  it("cuts off a chunk written after the last progress update, torn line included", () => {
    const path = fresh();
    SynthOutput.open(path, fp, counts(0)).appendChunk([rec(0)], 2, counts(2), zeroSeconds());
    const before = readFileSync(path, "utf8");
    appendFileSync(path, `${JSON.stringify(rec(2))}\n{"id": "3", "prom`);
    const out = SynthOutput.open(path, fp, counts(0));
    assert.equal(readFileSync(path, "utf8"), before);
    assert.equal(out.next, 2);
  });

  it("refuses to continue with other inputs, naming the first difference", () => {
    const path = fresh();
    SynthOutput.open(path, fp, counts(0));
    assert.throws(
      () => SynthOutput.open(path, { ...fp, config: { seed: 2, sampling: { temperature: 0.7 } } }, counts(0)),
      /was started with other inputs \(config\.seed was 1, now 2\)/,
    );
    assert.equal(fingerprintDifference(fp, { ...fp, extra: 1 }), "extra was unset, now 1");
    assert.equal(fingerprintDifference(fp, structuredClone(fp)), undefined);
  });

  it("refuses a file it did not write, and starts over on an empty one", () => {
    const path = fresh();
    writeFileSync(path, '{"something": "else"}\n');
    assert.throws(() => SynthOutput.open(path, fp, counts(0)), /exists but .*progress\.json does not/);
    writeFileSync(path, "");
    assert.equal(SynthOutput.open(path, fp, counts(0)).next, 0);
    assert.ok(existsSync(`${path}.progress.json`));
  });

  it("finishing without the ordering filter keeps OUT and makes a rerun a no-op", () => {
    const path = fresh();
    const out = SynthOutput.open(path, fp, counts(0));
    out.appendChunk([rec(0), rec(1)], 2, counts(2), zeroSeconds());
    const text = readFileSync(path, "utf8");
    assert.equal(out.finish(false).records.length, 2);
    const again = SynthOutput.open(path, fp, counts(0));
    assert.ok(again.done);
    assert.deepEqual(
      again.finish(false).records.map((r) => r.prompt_index),
      [0, 1],
    );
    assert.equal(readFileSync(path, "utf8"), text);
  });

  // Ordered, above-mean record 0; record 1 is ordered but below the means; record 2 breaks the ordering.
  const set = [
    rec(0, {
      ref_pos_chosen_logps: -6,
      ref_chosen_logps: -12,
      ref_neg_chosen_logps: -24,
      ref_neg_rejected_logps: -9,
      ref_rejected_logps: -18,
      ref_pos_rejected_logps: -36,
    }),
    rec(1, {
      ref_pos_chosen_logps: -20,
      ref_chosen_logps: -22,
      ref_neg_chosen_logps: -24,
      ref_neg_rejected_logps: -30,
      ref_rejected_logps: -33,
      ref_pos_rejected_logps: -36,
    }),
    rec(2, {
      ref_pos_chosen_logps: -30,
      ref_chosen_logps: -12,
      ref_neg_chosen_logps: -24,
      ref_neg_rejected_logps: -9,
      ref_rejected_logps: -18,
      ref_pos_rejected_logps: -36,
    }),
  ];

  it("the ordering filter rewrites OUT with the kept records and adds its drops to the counts", () => {
    assert.deepEqual(
      applyLogpOrder(set, counts(3)).records.map((r) => r.prompt_index),
      [0],
    );
    const path = fresh();
    const out = SynthOutput.open(path, fp, counts(0));
    out.appendChunk(set, 3, counts(3), zeroSeconds());
    const done = out.finish(true);
    assert.deepEqual(
      lines(path).map((r) => r.prompt_index),
      [0],
    );
    assert.deepEqual(
      done.records.map((r) => r.prompt_index),
      [0],
    );
    assert.equal(done.counts.dropped.logp_order, 1);
    assert.equal(done.counts.dropped.logp_below_mean, 1);
    const again = SynthOutput.open(path, fp, counts(0)).finish(true); // not filtered twice
    assert.deepEqual(
      again.records.map((r) => r.prompt_index),
      [0],
    );
    assert.equal(again.counts.dropped.logp_order, 1);
  });

  it("a crash during the filter's swap is recognised from the file: before it the filter reruns, after it the run is done", () => {
    const setup = () => {
      const path = fresh();
      const out = SynthOutput.open(path, fp, counts(0));
      out.appendChunk(set, 3, counts(3), zeroSeconds());
      const full = readFileSync(path, "utf8");
      out.finish(true);
      const filtered = readFileSync(path, "utf8");
      // Put the progress file back into the "filtering" state the swap starts from.
      const state = JSON.parse(readFileSync(`${path}.progress.json`, "utf8"));
      const filtering = {
        ...state,
        phase: "filtering",
        bytes: Buffer.byteLength(full),
        counts: counts(3),
        filtered: {
          sha256: createHash("sha256").update(filtered).digest("hex"),
          bytes: Buffer.byteLength(filtered),
          counts: state.counts,
        },
      };
      writeFileSync(`${path}.progress.json`, JSON.stringify(filtering));
      return { path, full, filtered };
    };
    const after = setup(); // OUT already swapped
    const a = SynthOutput.open(after.path, fp, counts(0));
    assert.ok(a.done);
    assert.equal(a.finish(true).counts.dropped.logp_order, 1);
    assert.equal(readFileSync(after.path, "utf8"), after.filtered);
    const before = setup(); // OUT still the full set
    writeFileSync(before.path, before.full);
    const b = SynthOutput.open(before.path, fp, counts(0));
    assert.ok(!b.done);
    const fin = b.finish(true);
    assert.equal(readFileSync(before.path, "utf8"), before.filtered);
    assert.equal(fin.counts.dropped.logp_order, 1);
    assert.equal(fin.counts.dropped.logp_below_mean, 1);
  });
});
