// The texts of synthesis: lenient parsing of the policy's feature list, the few-shot selection prompt, principle
// JSON with fallback to the library, and x+ / x- / x rendered through a real ChatML template.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_LIBRARY, type Feature, findFeature } from "../../src/sso/features.js";
import {
  contrastivePrompts,
  joinWords,
  libraryPrinciples,
  parseFeatureList,
  parsePrinciples,
  principleMessages,
  queryText,
  selectionMessages,
  systemMessage,
} from "../../src/sso/prompts.js";
import { makeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";

const lib = DEFAULT_LIBRARY;
const feature = (name: string): Feature => findFeature(lib, name)!;
const chatml = Tokenizer.fromFiles(makeByteLevelTokenizer());

describe("feature-list parsing", () => {
  const cases: [string, string, string[]][] = [
    ["plain commas", "Accuracy, Helpfulness", ["Accuracy", "Helpfulness"]],
    ["case and spacing", "  accuracy ,HELPFULNESS,   logicality ", ["Accuracy", "Helpfulness", "Logicality"]],
    ["bullets", "- Safety\n* Accuracy\n• Concision", ["Safety", "Accuracy", "Concision"]],
    ["numbering", "1. Engagement\n2) Literariness\n(3) Safety", ["Engagement", "Literariness", "Safety"]],
    [
      "quotes and a final 'and'",
      "\"Accuracy\", 'Logicality' and `Concision`.",
      ["Accuracy", "Logicality", "Concision"],
    ],
    ["adjectives stand for their feature", "concise and accurate, not verbose", ["Concision", "Accuracy"]],
    ["bad adjectives too", "unsafe, boring", ["Safety", "Literariness"]],
    ["aliases", "Conciseness; completeness", ["Concision", "Comprehensiveness"]],
    ["unknown names are skipped", "Humour, Accuracy, Kindness, Safety", ["Accuracy", "Safety"]],
    ["duplicates keep the first place", "Accuracy, Safety, accurate, SAFETY, Accuracy", ["Accuracy", "Safety"]],
    ["a feature's words inside other words do not count", "unsafeness, literarily, Helpfulnessy", []],
    ["an invented next query is not read", "Accuracy\n\nQuery: write something safe and concise", ["Accuracy"]],
    ["empty", "", []],
    ["gibberish", "\u0000ÿ#%@@ qzx", []],
  ];
  for (const [label, text, want] of cases) {
    it(`${label}: ${JSON.stringify(text)} → ${JSON.stringify(want)}`, () =>
      assert.deepEqual(parseFeatureList(text, lib), want));
  }

  it("a multi-word alias of a user feature wins over a shorter one inside it", () => {
    const custom = {
      ...lib,
      features: [
        ...lib.features,
        { ...feature("Safety"), name: "Code Safety", good: "safe code", bad: "risky code", aliases: [] },
      ],
    };
    assert.deepEqual(parseFeatureList("safe code, accurate", custom), ["Code Safety", "Accuracy"]);
    assert.deepEqual(parseFeatureList("safe, code safety", custom), ["Safety", "Code Safety"]);
  });
});

describe("prompts", () => {
  it("the selection prompt lists every feature with its meaning, then the examples as turns, then the query", () => {
    const m = selectionMessages(lib, "How tall is Everest?");
    assert.equal(m.length, 2 * lib.examples.length + 1);
    for (const f of lib.features) assert.ok(m[0].content.includes(`\n- ${f.name}: ${f.description}\n`), f.name);
    assert.equal(m[1].role, "assistant");
    assert.equal(m[1].content, lib.examples[0].features.join(", "));
    assert.deepEqual(m[m.length - 1], { role: "user", content: "Query: How tall is Everest?" });
    assert.deepEqual(parseFeatureList(m[1].content, lib), lib.examples[0].features);
  });

  it("without examples the instructions and the query share one user turn", () => {
    const m = selectionMessages({ ...lib, examples: [] }, "hi");
    assert.equal(m.length, 1);
    assert.ok(m[0].content.startsWith("You decide") && m[0].content.endsWith("\n\nQuery: hi"));
  });

  it("a multi-turn prompt is shown to the policy as a labelled conversation", () => {
    assert.equal(queryText([{ role: "user", content: "a" }]), "a");
    assert.equal(
      queryText([
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
        { role: "user", content: "c" },
      ]),
      "User: a\n\nAssistant: b\n\nUser: c",
    );
  });

  it("adjectives are joined as English lists", () => {
    assert.deepEqual(
      [joinWords(["a"]), joinWords(["a", "b"]), joinWords(["a", "b", "c"])],
      ["a", "a and b", "a, b and c"],
    );
  });
});

describe("query-specific principles", () => {
  const fs = [feature("Accuracy"), feature("Helpfulness")];

  it("well-formed JSON gives the policy's principles, names matched case-insensitively, surrounding text ignored", () => {
    const text =
      'Sure! {"accuracy": {"good": " Cite the {exact} year. ", "bad": "Guess the year."}, "Helpfulness": {"good": "Say where to look.", "bad": "Say nothing useful."}} Hope this helps.';
    assert.deepEqual(parsePrinciples(text, fs), [
      { feature: "Accuracy", good: "Cite the {exact} year.", bad: "Guess the year.", source: "policy" },
      { feature: "Helpfulness", good: "Say where to look.", bad: "Say nothing useful.", source: "policy" },
    ]);
  });

  it("a feature missing, malformed or empty in the JSON falls back to the library; bad JSON falls back entirely", () => {
    const lib2 = libraryPrinciples(fs);
    const partial = parsePrinciples('{"Accuracy": {"good": "G", "bad": "B"}, "Helpfulness": {"good": ""}}', fs);
    assert.deepEqual(partial, [{ feature: "Accuracy", good: "G", bad: "B", source: "policy" }, lib2[1]]);
    assert.deepEqual(parsePrinciples('{"Accuracy": {"good": 3, "bad": "B"}}', fs), lib2);
    for (const bad of ["", "no json here", '{"Accuracy": {"good": "G", "bad": "B"', "[1, 2]", "{]"])
      assert.deepEqual(parsePrinciples(bad, fs), lib2, bad);
    assert.equal(lib2[0].good, feature("Accuracy").goodPrinciple);
  });

  it("the principle prompt carries a worked example and asks for JSON keyed by the chosen features", () => {
    const m = principleMessages(lib, fs, "Q?");
    assert.equal(m.length, 3);
    assert.doesNotThrow(() => JSON.parse(m[1].content));
    assert.ok(
      m[2].content.includes(
        '{"Accuracy": {"good": "...", "bad": "..."}, "Helpfulness": {"good": "...", "bad": "..."}}',
      ),
    );
    assert.ok(m[2].content.includes("Query: Q?"));
  });
});

describe("contrastive prompts through a ChatML template", () => {
  const fs = [feature("Accuracy"), feature("Helpfulness")];
  const pr = libraryPrinciples(fs);
  const prompt = [{ role: "user", content: "How tall is Everest?" }];
  const { pos, neg, plain } = contrastivePrompts(prompt, systemMessage("pos", fs, pr), systemMessage("neg", fs, pr));
  const render = (m: typeof pos) => chatml.applyChatTemplate(m, { addGenerationPrompt: true });
  const tail = "<|im_end|>\n<|im_start|>user\nHow tall is Everest?<|im_end|>\n<|im_start|>assistant\n";

  it("x+ states the good adjectives and principles in a system turn before the query", () => {
    assert.equal(
      render(pos),
      "<|im_start|>system\nYour answer should be accurate and helpful.\n\nGuidelines:\n" +
        `- ${feature("Accuracy").goodPrinciple}\n- ${feature("Helpfulness").goodPrinciple}\n\n` +
        "Follow the guidelines, but do not mention them or refer to them in your answer." +
        tail,
    );
  });

  it("x- states the bad ones", () => {
    assert.equal(
      render(neg),
      "<|im_start|>system\nYour answer should be inaccurate and unhelpful.\n\nGuidelines:\n" +
        `- ${feature("Accuracy").badPrinciple}\n- ${feature("Helpfulness").badPrinciple}\n\n` +
        "Follow the guidelines, but do not mention them or refer to them in your answer." +
        tail,
    );
  });

  it("x is the query alone, with no system turn", () => {
    assert.equal(render(plain), "<|im_start|>user\nHow tall is Everest?<|im_end|>\n<|im_start|>assistant\n");
  });

  it("three features are joined with commas and 'and'", () => {
    const three = [...fs, feature("Concision")];
    assert.ok(
      systemMessage("neg", three, libraryPrinciples(three)).startsWith(
        "Your answer should be inaccurate, unhelpful and verbose.\n",
      ),
    );
  });
});
