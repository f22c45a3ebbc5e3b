// The world's split discipline and prompt sampling: items are held out by a fixed hash, so no item and no prompt
// text is ever in both splits, whatever the seeds and however many prompts are drawn; sampling is deterministic
// per seed, different across seeds, deals every prompt before repeating, and follows the family weights.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPrompts } from "../../src/sso/input.js";
import { namedPhrases } from "../../src/world/check.js";
import {
  allPrompts,
  FAMILIES,
  FAMILY_WEIGHTS,
  heldOutPool,
  heldOutPrompts,
  lookup,
  overlap,
  promptLines,
  samplePrompts,
  splitOf,
  trainPrompts,
} from "../../src/world/world.js";
import { tempDir } from "../helpers.js";

const SEEDS = [0, 1, 2, 7, 12345];

describe("world splits", () => {
  it("hold out a quarter of the items of every family, by a rule that does not involve a seed", () => {
    for (const family of FAMILIES) {
      const items = new Set(
        allPrompts()
          .filter((p) => p.task.family === family)
          .map((p) => p.item),
      );
      const held = [...items].filter((i) => splitOf(i) === "heldout").length;
      assert.ok(held >= 1 && items.size - held >= 1, `${family}: ${held} of ${items.size} held out`);
      assert.ok(Math.abs(held / items.size - 0.25) <= 0.05, `${family}: ${held} of ${items.size} held out`);
    }
  });

  it("share no item and no prompt text between the whole train and held-out pools", () => {
    const train = allPrompts("train"),
      held = allPrompts("heldout");
    assert.deepEqual(overlap(train, held), { items: [], texts: [] });
    assert.equal(train.length + held.length, allPrompts().length);
  });

  it("never overlap for any pair of seeds, at large n", () => {
    const trains = SEEDS.map((s) => trainPrompts(s, 3000)),
      helds = SEEDS.map((s) => heldOutPrompts(s, 3000));
    for (const t of trains) assert.ok(t.every((p) => splitOf(p.item) === "train"));
    for (const h of helds) assert.ok(h.every((p) => splitOf(p.item) === "heldout"));
    for (const t of trains) for (const h of helds) assert.deepEqual(overlap(t, h), { items: [], texts: [] });
  });

  it("hold out a whole pool of at least 600 distinct prompts, every family, none a training item for any seed", () => {
    const pool = heldOutPool();
    assert.ok(pool.length >= 600, `${pool.length} prompts`);
    assert.equal(new Set(pool.map((p) => p.text)).size, pool.length);
    for (const f of FAMILIES)
      assert.ok(
        pool.some((p) => p.task.family === f),
        f,
      );
    assert.ok(pool.every((p) => splitOf(p.item) === "heldout"));
    assert.deepEqual(heldOutPool(), pool, "the pool does not depend on a seed or a call");
    // Every phrasing of every held-out item is in the pool, and the pool's items are exactly the held-out ones.
    assert.deepEqual(pool, allPrompts("heldout", { extra: true }));
    for (const s of SEEDS) assert.deepEqual(overlap(trainPrompts(s, 3000), pool), { items: [], texts: [] });
    assert.deepEqual(overlap(allPrompts("train", { extra: true }), pool), { items: [], texts: [] });
  });

  it("keep the extra phrasings out of every seeded draw (corpus, training and sampled evaluation)", () => {
    for (const s of SEEDS)
      for (const split of ["train", "heldout", "all"] as const)
        assert.ok(samplePrompts(split, s, 3000).every((p) => p.core));
    assert.ok(heldOutPool().some((p) => !p.core));
  });

  it("overlap reports shared items and texts", () => {
    const [a, b] = [trainPrompts(1, 50), trainPrompts(2, 50)];
    const o = overlap(a, [...b, a[0]]);
    assert.ok(o.items.includes(a[0].item) && o.texts.includes(a[0].text));
  });

  it("are deterministic for a seed and different across seeds", () => {
    assert.deepEqual(trainPrompts(5, 200), trainPrompts(5, 200));
    assert.deepEqual(heldOutPrompts(5, 200), heldOutPrompts(5, 200));
    assert.notDeepEqual(
      trainPrompts(5, 200).map((p) => p.id),
      trainPrompts(6, 200).map((p) => p.id),
    );
    assert.notDeepEqual(
      heldOutPrompts(5, 200).map((p) => p.id),
      heldOutPrompts(6, 200).map((p) => p.id),
    );
  });

  it("deal every prompt of a family before repeating one, and cover the whole pool at large n", () => {
    const small = trainPrompts(3, 40);
    assert.equal(new Set(small.map((p) => p.id)).size, small.length);
    assert.equal(new Set(trainPrompts(3, 4000).map((p) => p.id)).size, allPrompts("train").length);
    assert.equal(new Set(heldOutPrompts(3, 2000).map((p) => p.id)).size, allPrompts("heldout").length);
  });

  it("draw families in the proportions of FAMILY_WEIGHTS", () => {
    const ps = samplePrompts("train", 9, 4000);
    for (const f of FAMILIES) {
      const share = ps.filter((p) => p.task.family === f).length / ps.length;
      assert.ok(Math.abs(share - FAMILY_WEIGHTS[f]) < 0.03, `${f}: ${share}`);
    }
  });
});

describe("world prompts", () => {
  it("have unique ids and texts, and lookup finds each by its text", () => {
    const all = allPrompts(undefined, { extra: true });
    assert.equal(new Set(all.map((p) => p.id)).size, all.length);
    for (const p of all) assert.equal(lookup(p.text), p);
    assert.equal(lookup("What is the capital of Atlantis?"), undefined);
  });

  it("keep the expected answer out of the prompt text", () => {
    for (const p of allPrompts(undefined, { extra: true })) {
      if (p.task.family === "fact") assert.deepEqual(namedPhrases(p.text, [p.task.answer]), [], p.text);
      if (p.task.family === "list") assert.deepEqual(namedPhrases(p.text, p.task.members), [], p.text);
      if (p.task.family === "arith") assert.ok(!p.text.includes(`= ${p.task.answer}`), p.text);
    }
  });

  it("name no answer in an extra phrasing that the item's first core phrasing does not name", () => {
    for (const p of allPrompts(undefined, { extra: true })) {
      if (p.core || (p.task.family !== "fact" && p.task.family !== "list")) continue;
      const first = lookup(allPrompts(undefined, { extra: true }).find((q) => q.item === p.item)!.text)!;
      assert.deepEqual(namedPhrases(p.text, p.task.domain), namedPhrases(first.text, p.task.domain), p.text);
    }
  });

  it("write as prompt lines that sso synth reads back with their ids", () => {
    const ps = trainPrompts(4, 25),
      file = join(tempDir("sso-world-"), "prompts.jsonl");
    writeFileSync(file, promptLines(ps));
    const read = readPrompts(file);
    assert.deepEqual(
      read.map((r) => r.id),
      ps.map((p) => p.id),
    );
    assert.deepEqual(
      read.map((r) => r.messages),
      ps.map((p) => [{ role: "user", content: p.text }]),
    );
  });
});
