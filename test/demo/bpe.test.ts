// The BPE trainer, checked through the tokenizer a model folder would carry: merges learned from world corpus text,
// written with writeByteLevelTokenizer and loaded with Tokenizer.fromDir, must round-trip the text exactly, compress
// it, be deterministic, respect the pre-tokenizer's boundaries and never split a UTF-8 character.

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { preTokenize, trainBpe } from "../../src/demo/bpe.js";
import { writeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeCorpus } from "../../src/world/index.js";
import { tempDir } from "../helpers.js";

const root = tempDir("sso-bpe-");
after(() => rmSync(root, { recursive: true, force: true }));

const texts = makeCorpus(3, 300).map((e) =>
  e.messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join(""),
);

function load(merges: [string, string][], name: string): Tokenizer {
  writeByteLevelTokenizer(join(root, name), { merges });
  return Tokenizer.fromDir(join(root, name));
}

describe("BPE trainer", () => {
  const merges = trainBpe(texts, 400);

  it("learns the requested number of merges, deterministically", () => {
    assert.equal(merges.length, 400);
    assert.deepEqual(trainBpe(texts, 400), merges);
    assert.deepEqual(trainBpe(texts, 50), merges.slice(0, 50), "a shorter run is a prefix of a longer one");
  });

  it("round-trips corpus text exactly and compresses it", () => {
    const tok = load(merges, "a");
    let chars = 0,
      tokens = 0;
    for (const t of texts.slice(0, 100)) {
      const ids = tok.encode(t);
      assert.equal(tok.decode(ids), t);
      chars += t.length;
      tokens += ids.length;
    }
    assert.ok(tokens / chars < 0.4, `tokens/char ${tokens / chars}`);
    assert.equal(tok.encode("<|im_end|>").length, 1, "special tokens stay whole");
  });

  it("merges only within pre-tokens, so every merge fires at run time", () => {
    const tok = load(merges, "b");
    for (const [a, b] of merges) {
      const piece = a + b;
      assert.deepEqual(preTokenize(piece), [piece], `merge ${JSON.stringify([a, b])} crosses a pre-token boundary`);
      assert.equal(tok.encode(piece).length, 1, `${JSON.stringify(piece)} is one token`);
    }
  });

  it("breaks ties by bytes and never splits a UTF-8 character", () => {
    assert.deepEqual(trainBpe(["cd", "ab", "cd", "ab"], 2), [
      ["a", "b"],
      ["c", "d"],
    ]);
    const m = trainBpe(["éé xx éé xx — —"], 10);
    const tok = load(m, "c");
    assert.equal(tok.decode(tok.encode("éé — x")), "éé — x");
    assert.ok(m.every(([a, b]) => !a.includes("\ufffd") && !b.includes("\ufffd")));
    assert.ok(m.length > 0 && m.every(([a, b]) => /^[ x]*$/.test(a + b)), "multi-byte characters are left as bytes");
  });
});
