// The byte-level BPE builder, checked through what a model would see: folders written by writeByteLevelTokenizer
// and loaded with Tokenizer.fromDir. Byte ids, UTF-8 round trips, merges, special tokens, the ChatML template and
// its end of turn. Not here: the Qwen3 tokenizer and config-file parsing (tokenizer.test.ts).

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Rng } from "../../src/tensor/rng.js";
import {
  BYTE_TO_UNICODE,
  type ByteLevelOptions,
  toByteLevel,
  writeByteLevelTokenizer,
} from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { tempDir } from "../helpers.js";

const root = tempDir("sso-byte-level-");
after(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
function load(opts?: ByteLevelOptions): Tokenizer {
  const dir = join(root, `tok${folders++}`);
  writeByteLevelTokenizer(dir, opts);
  return Tokenizer.fromDir(dir);
}

/** Random text from every Unicode plane that UTF-8 can carry: ASCII, controls, Latin-1, CJK, astral (emoji). */
function randomText(rng: Rng, n: number): string {
  const ranges: [number, number][] = [
    [0x00, 0x7f],
    [0x80, 0x7ff],
    [0x800, 0xd7ff],
    [0xe000, 0xffff],
    [0x10000, 0x10ffff],
  ];
  let s = "";
  for (let i = 0; i < n; i++) {
    const [lo, hi] = ranges[rng.int(ranges.length)];
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

describe("byte-level tokenizer", () => {
  const MERGES: [string, string][] = [
    ["l", "l"],
    ["h", "e"],
    ["he", "ll"],
    ["hell", "o"],
    [" ", "w"],
    ["o", "r"],
    ["l", "d"],
    [" w", "or"],
    [" wor", "ld"],
  ];

  it("uses GPT-2's byte-to-unicode alphabet", () => {
    assert.equal(new Set(BYTE_TO_UNICODE).size, 256);
    assert.equal(BYTE_TO_UNICODE[0x41], "A");
    assert.equal(BYTE_TO_UNICODE[0x20], "Ġ"); // GPT-2's space
    assert.equal(BYTE_TO_UNICODE[0x0a], "Ċ"); // and newline
    assert.equal(BYTE_TO_UNICODE[0xad], "\u0143"); // soft hyphen is not printable: the 68th remapped byte
    assert.equal(toByteLevel(" é"), "ĠÃ©");
  });

  it("without merges, encodes text to its UTF-8 bytes (id = byte value)", () => {
    const t = load();
    const s = "héllo 😀\n\u0000\u007f";
    assert.deepEqual(t.encode(s), [...Buffer.from(s, "utf8")]);
    assert.equal(t.vocabSize, 256 + 3);
  });

  it("round-trips arbitrary UTF-8 text through encode and decode", () => {
    const t = load({ merges: MERGES });
    const rng = new Rng(1234);
    const fixed = ["", "hello world", "  spaced\t\ttabs\r\n", "emoji 😀👍🏽🇯🇵", "bytes ≥ 0x80: ÿ ß € 𝄞", "你好，世界"];
    for (const s of [...fixed, ...Array.from({ length: 50 }, () => randomText(rng, 1 + rng.int(40)))]) {
      assert.equal(t.decode(t.encode(s)), s, JSON.stringify(s));
    }
  });

  it("merges reduce the token count and get ids after the bytes, in order", () => {
    const plain = load(),
      merged = load({ merges: MERGES });
    const s = "hello world, hello";
    assert.equal(plain.encode(s).length, 18);
    assert.deepEqual(
      merged.encode(s).map((id) => merged.idToToken(id)),
      ["hello", "Ġworld", ",", "Ġ", "hello"],
    );
    const merges = ["ll", "he", "hell", "hello", "Ġw", "or", "ld", "Ġwor", "Ġworld"];
    assert.deepEqual(
      merges.map((tok) => merged.tokenToId(tok)),
      merges.map((_, i) => 256 + i),
    );
    assert.equal(merged.vocabSize, 256 + MERGES.length + 3);
  });

  it("rejects a merge whose piece is neither a byte nor an earlier merge", () => {
    assert.throws(() => load({ merges: [["he", "l"]] }), /merge 0 .*"he" is neither a byte nor an earlier merge/);
  });

  it("encodes each special token as a single id, also inside text", () => {
    const t = load({ merges: MERGES });
    const base = 256 + MERGES.length;
    assert.deepEqual(
      ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map((s) => t.encode(s)),
      [[base], [base + 1], [base + 2]],
    );
    assert.deepEqual(t.encode("hello<|im_end|>hello"), [259, base + 2, 259]);
    const custom = load({ specialTokens: ["<|im_end|>", "<pad>"] });
    assert.deepEqual(custom.encode("<pad>"), [257]);
    assert.equal(custom.padId, undefined); // no <|endoftext|>, so no pad token is declared
    assert.deepEqual(custom.eosIds, [256]);
  });

  it("renders ChatML turns and the generation prompt", () => {
    const t = load();
    const msgs = [
      { role: "system", content: "S" },
      { role: "user", content: "U" },
      { role: "assistant", content: "A" },
    ];
    assert.equal(
      t.applyChatTemplate(msgs, { addGenerationPrompt: false }),
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n",
    );
    assert.equal(
      t.applyChatTemplate(msgs.slice(0, 2), { addGenerationPrompt: true }),
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("declares <|im_end|> as eos and end of turn, <|endoftext|> as pad, and no bos", () => {
    const t = load();
    assert.deepEqual(t.endOfTurn, { text: "<|im_end|>", ids: [258] });
    assert.deepEqual(t.eosIds, [258]);
    assert.equal(t.padId, 256);
    assert.equal(t.bosId, undefined);
  });

  it("encodeChat's ids concatenate to the whole conversation's encoding, minus its final newline", () => {
    const t = load({ merges: MERGES });
    const msgs = [{ role: "user", content: "say hello" }];
    const { promptIds, responseIds } = t.encodeChat(msgs, "hello world");
    const full = t.encode(
      t.applyChatTemplate([...msgs, { role: "assistant", content: "hello world" }], { addGenerationPrompt: false }),
    );
    assert.deepEqual([...promptIds, ...responseIds, 0x0a], full);
    assert.deepEqual(responseIds, [259, 264, t.tokenToId("<|im_end|>")]);
  });
});
