// The demo model's recipe (tools/make-demo-model.ts) without training: plain answers get per-prompt habits so the
// most likely plain answer is mediocre, only plain examples change, and the x+/x- evaluation prompts carry the
// spec's system messages.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { checkResponse, corpusJsonl, makeCorpus, meanPass } from "../../src/world/index.js";
import { contrastiveFor, DEMO, habitOf, withHabits } from "../../tools/make-demo-model.js";

describe("demo model recipe", () => {
  it("writes the same corpus as the one the shipped model was trained on (the world's extra phrasings stay out)", () => {
    // sha256 of the recipe's corpus at 8,000 examples (the weak model's), computed with the code before issue 20
    // grew the world; the 40,000-example corpus of the shipped model was checked the same way once (9ec564e1…).
    const jsonl = corpusJsonl(withHabits(makeCorpus(DEMO.seed, 8000), DEMO.seed, DEMO.plainHabit));
    assert.equal(
      createHash("sha256").update(jsonl).digest("hex"),
      "28e0389f19dc310a1ec58ca5a60fdde7d959c963f0989fd5492b33005de458e2",
    );
  });

  const corpus = makeCorpus(2, 400);
  const habits = withHabits(corpus, 2, 0.6);

  it("replaces only plain answers, deterministically, with the prompt's habit", () => {
    assert.deepEqual(withHabits(corpus, 2, 0.6), habits);
    habits.forEach((e, i) => {
      if (e.kind !== "plain") assert.equal(e, corpus[i]);
      const last = e.messages[e.messages.length - 1].content;
      const checks = checkResponse(e.prompt, last);
      for (const d of e.defects) assert.equal(checks[d], false, `${e.prompt.text} → ${last} should fail ${d}`);
    });
    const changed = habits.filter((e, i) => e !== corpus[i]);
    assert.ok(
      changed.length > 0 && changed.every((e) => JSON.stringify(e.defects) === JSON.stringify(habitOf(e.prompt))),
    );
  });

  it("makes plain answers mediocre on average", () => {
    const plain = habits.filter((e) => e.kind === "plain");
    const score =
      plain.reduce((s, e) => s + meanPass(checkResponse(e.prompt, e.messages[e.messages.length - 1].content))!, 0) /
      plain.length;
    assert.ok(score > 0.6 && score < 0.9, `mean plain score ${score}`);
  });

  it("evaluates x+ and x- with good and bad principle system messages", () => {
    const x = contrastiveFor(corpus[0].prompt, 1, 0);
    assert.equal(x.pos[0].role, "system");
    assert.match(x.pos[0].content, /^Your answer should be /);
    assert.notEqual(x.pos[0].content, x.neg[0].content);
    assert.deepEqual(x.pos.slice(1), x.neg.slice(1));
  });
});
