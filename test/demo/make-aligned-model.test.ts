// Issue 33's aligned-model recipe (tools/make-aligned-model.ts) on a tiny setting with the shipped demo model: the
// same seed gives the same bytes (pairs, trained weights, the record of the rounds), the pairs are checker-labelled
// DPO records the trainer accepts, the validation set is the training items' extra phrasings, and bad input is
// refused with a one-line error before any work.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { defaultDemoModel } from "../../src/demo/run.js";
import { SsoRecord } from "../../src/sso/record.js";
import { checkResponse, meanPass } from "../../src/world/check.js";
import { lookup, splitOf } from "../../src/world/world.js";
import {
  type AlignResult,
  checkAlignOptions,
  makeAlignedModel,
  parseAlignArgs,
  validationPrompts,
} from "../../tools/make-aligned-model.js";

const tmp = mkdtempSync(join(tmpdir(), "sso-aligned-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const tiny = (out: string) =>
  parseAlignArgs([
    "--out",
    out,
    "--seed",
    "3",
    "--rounds",
    "2",
    "--prompts",
    "40",
    "--samples",
    "2",
    "--validation",
    "6",
    "--max-new-tokens",
    "12",
    "--lr",
    "1e-3",
  ]);

const strip = (file: string) => {
  const r = JSON.parse(readFileSync(file, "utf8")) as AlignResult;
  return JSON.stringify({
    ...r,
    options: { ...r.options, out: "" },
    rounds: r.rounds.map((x) => ({ ...x, seconds: 0 })),
  });
};

describe("make-aligned-model", () => {
  it("same seed, same bytes; pairs are checker-ordered DPO records; the stop rule keeps only rising rounds", () => {
    const a = join(tmp, "a"),
      b = join(tmp, "b");
    const ra = makeAlignedModel(tiny(a));
    makeAlignedModel(tiny(b));
    assert.equal(strip(join(a, "aligned.json")), strip(join(b, "aligned.json")));
    assert.ok(ra.rounds.length >= 1);
    // Round 1 trained (at least two optimizer steps: the first step's warmup learning rate is 0), so the bytes
    // compared below are weights that moved, not the base model's.
    assert.ok(ra.rounds[0].pairs > 8, `round 1 has ${ra.rounds[0].pairs} pairs`);
    assert.ok(
      !readFileSync(join(a, "round-1/train/model/model.safetensors")).equals(
        readFileSync(join(defaultDemoModel(), "model.safetensors")),
      ),
    );
    for (const f of ["round-1/pairs.jsonl", "round-1/train/model/model.safetensors", "model/model.safetensors"])
      assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between two runs`);
    const records = readFileSync(join(a, "round-1", "pairs.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => SsoRecord.parse(JSON.parse(l)));
    assert.equal(records.length, ra.rounds[0].pairs);
    for (const r of records) {
      const p = lookup(r.prompt[0].content)!;
      assert.equal(splitOf(p.item), "train");
      assert.ok(p.core);
      const s = (y: string) => meanPass(checkResponse(p, y)) ?? 0;
      assert.ok(s(r.chosen[0].content) > s(r.rejected[0].content), "chosen must rate above rejected");
      assert.ok(r.ref_chosen_logps < 0 && r.ref_rejected_logps < 0);
    }
    // The stop rule: kept rounds strictly raise the best validation; the first that does not ends the rounds.
    let best = ra.base_validation;
    ra.rounds.forEach((r, i) => {
      assert.equal(r.kept, r.validation > best);
      if (r.kept) best = r.validation;
      else assert.equal(i, ra.rounds.length - 1);
    });
    assert.equal(ra.picked, [0, ...ra.rounds.filter((r) => r.kept).map((r) => r.round)].at(-1));
    // A rerun reuses everything and gives the same record.
    const again = makeAlignedModel(tiny(a));
    assert.deepEqual({ ...again, rounds: [] }, { ...ra, rounds: [] });
  });

  it("validates on the training items' extra phrasings, seeded", () => {
    const v = validationPrompts(3, 50);
    assert.equal(v.length, 50);
    assert.ok(v.every((p) => !p.core && splitOf(p.item) === "train"));
    assert.deepEqual(validationPrompts(3, 50), v);
    assert.notDeepEqual(
      validationPrompts(4, 50).map((p) => p.id),
      v.map((p) => p.id),
    );
  });

  it("refuses bad input with one-line errors before any work", () => {
    const bad: [string[], RegExp][] = [
      [[], /^--out: required/],
      [["--out", tmp, "--rounds", "0"], /^--rounds: expected a positive integer, got "0"/],
      [["--out", tmp, "--samples", "x"], /^--samples: expected a positive integer/],
      [["--out", tmp, "--lr=-1"], /^--lr: expected a positive number/],
      [["--out", tmp, "--seed=-2"], /^--seed: expected/],
      [["--out", tmp, "--bogus", "1"], /Unknown option '--bogus'/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseAlignArgs(args), { message: re });
    const file = join(tmp, "file");
    writeFileSync(file, "x");
    const checks: [Partial<ReturnType<typeof parseAlignArgs>>, RegExp][] = [
      [{ base: tmp }, /^--base: .* has no config\.json \(not a model\)$/],
      [{ out: file }, /^--out: .* is a file$/],
      [{ samples: 1 }, /^--samples: at least 2 answers/],
      [{ validation: 100000 }, /^--validation: at most \d+ prompts \(got 100000\)$/],
    ];
    for (const [o, re] of checks)
      assert.throws(() => checkAlignOptions({ ...tiny(join(tmp, "c")), ...o }), { message: re });
    const other = { ...tiny(join(tmp, "a")), seed: 4 };
    assert.throws(() => makeAlignedModel(other), /aligned\.json: made with other options/);
  });
});
