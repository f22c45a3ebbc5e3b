// Well-formedness: the world's vocabulary covers every answer the demo model's corpus can contain (numbers
// included), and degenerate words are caught.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeCorpus } from "../../src/world/corpus.js";
import { isWellFormed, unknownWords, wordsOf, worldVocabulary } from "../../src/world/words.js";

describe("world words", () => {
  it("every assistant answer of a large corpus sample is well-formed (selection answers aside)", () => {
    const answers = makeCorpus(7, 4000)
      .filter((e) => e.kind !== "select")
      .map((e) => e.messages[e.messages.length - 1].content);
    const bad = answers.filter((a) => !isWellFormed(a));
    assert.deepEqual(bad.slice(0, 3), []);
    assert.ok(worldVocabulary().size > 300);
  });

  it("flags made-up words, keeps numbers, and an empty answer is not well-formed", () => {
    assert.deepEqual(unknownWords("I cannot help withange, withange and witho."), ["withange", "witho"]);
    assert.deepEqual(unknownWords("3 + 4 = 7. The answer is 123456."), []);
    assert.equal(isWellFormed("It goes cluck."), true);
    assert.equal(isWellFormed("  ...  "), false);
    assert.deepEqual(wordsOf("I can\u2019t say, Paris!"), ["i", "can't", "say", "paris"]);
  });
});
