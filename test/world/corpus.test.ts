// The demo model's corpus: the kinds come in the configured proportions; x+ / x- examples use exactly the system
// messages synthesis builds and their answers follow them (good ones pass every check, bad ones fail every
// targeted feature); plain answers are a noisy mixture; selection examples are synthesis's selection prompt
// answered with fitting features that parseFeatureList reads back; the JSONL holds one {"messages"} per example.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_LIBRARY, type Feature, findFeature, mergeFeatureFile } from "../../src/sso/features.js";
import { libraryPrinciples, parseFeatureList, selectionMessages, systemMessage } from "../../src/sso/prompts.js";
import { APPLICABLE } from "../../src/world/answers.js";
import { checkResponse, WORLD_FEATURES } from "../../src/world/check.js";
import {
  type CorpusExample,
  corpusJsonl,
  FITTING,
  kindCounts,
  makeCorpus,
  writeCorpus,
} from "../../src/world/corpus.js";
import { splitOf } from "../../src/world/world.js";
import { tempDir } from "../helpers.js";

const N = 2000;
const corpus = makeCorpus(11, N);
const of = (kind: CorpusExample["kind"]) => corpus.filter((e) => e.kind === kind);
const answer = (e: CorpusExample) => e.messages[e.messages.length - 1];
const checks = (e: CorpusExample) => checkResponse(e.prompt, answer(e).content);
const lib = DEFAULT_LIBRARY;
const feats = (names: string[]): Feature[] => names.map((n) => findFeature(lib, n)!);

describe("world corpus", () => {
  it("has the kinds in the configured proportions, exactly", () => {
    assert.deepEqual(kindCounts(N, { pos: 0.3, neg: 0.3, plain: 0.25, select: 0.15 }), {
      pos: 600,
      neg: 600,
      plain: 500,
      select: 300,
    });
    assert.deepEqual(
      ["pos", "neg", "plain", "select"].map((k) => of(k as CorpusExample["kind"]).length),
      [600, 600, 500, 300],
    );
    const odd = kindCounts(7, { pos: 1, neg: 1, plain: 1, select: 0 });
    assert.equal(odd.pos + odd.neg + odd.plain + odd.select, 7);
    assert.equal(odd.select, 0);
    const custom = makeCorpus(2, 100, lib, { mix: { pos: 0, neg: 0, plain: 1, select: 1 } });
    assert.deepEqual(
      [custom.filter((e) => e.kind === "plain").length, custom.filter((e) => e.kind === "select").length],
      [50, 50],
    );
  });

  it("is deterministic for a seed and different across seeds", () => {
    assert.equal(corpusJsonl(makeCorpus(11, 300)), corpusJsonl(makeCorpus(11, 300)));
    assert.notEqual(corpusJsonl(makeCorpus(11, 300)), corpusJsonl(makeCorpus(12, 300)));
  });

  it("x+ examples carry synthesis's positive system message and answers that pass every check", () => {
    for (const e of of("pos")) {
      const f = feats(e.features);
      assert.deepEqual(e.messages.slice(0, 2), [
        { role: "system", content: systemMessage("pos", f, libraryPrinciples(f)) },
        { role: "user", content: e.prompt.text },
      ]);
      const c = checks(e);
      assert.ok(
        WORLD_FEATURES.every((w) => c[w] !== false),
        `${e.prompt.text} → ${answer(e).content}`,
      );
    }
  });

  it("x- examples carry the negative system message and fail every chosen feature the world judges", () => {
    let withDefect = 0;
    for (const e of of("neg")) {
      const f = feats(e.features);
      assert.equal(e.messages[0].content, systemMessage("neg", f, libraryPrinciples(f)));
      assert.deepEqual(
        e.defects,
        e.features.filter((n) => APPLICABLE[e.prompt.task.family].some((w) => w === n)),
      );
      const c = checks(e);
      for (const d of e.defects) assert.equal(c[d], false, `${d}: ${e.prompt.text} → ${answer(e).content}`);
      if (e.defects.length > 0) withDefect++;
    }
    assert.ok(withDefect / of("neg").length > 0.95, `${withDefect} of ${of("neg").length} x- answers have a defect`);
  });

  it("chooses contrastive features as synthesis does: k fitting ones, plus Concision by the 0.2 coin", () => {
    const contrast = [...of("pos"), ...of("neg")];
    for (const e of contrast) {
      const fit = FITTING[e.prompt.task.family];
      assert.deepEqual(e.features.slice(0, 2), fit.slice(0, 2), e.prompt.id);
      assert.ok(e.features.length === 2 || (e.features.length === 3 && e.features[2] === "Concision"));
    }
    const nonHarmful = contrast.filter((e) => e.prompt.task.family !== "harmful");
    const share = nonHarmful.filter((e) => e.features.includes("Concision")).length / nonHarmful.length;
    assert.ok(share > 0.14 && share < 0.26, `Concision added to ${share}`);
  });

  it("answers plain prompts with a noisy default: about 55 % good, the rest with one failing defect", () => {
    const plain = of("plain");
    for (const e of plain) {
      assert.deepEqual(e.messages.slice(0, -1), [{ role: "user", content: e.prompt.text }]);
      assert.ok(e.defects.length <= 1);
      const c = checks(e);
      if (e.defects.length === 0)
        assert.ok(
          WORLD_FEATURES.every((w) => c[w] !== false),
          answer(e).content,
        );
      else assert.equal(c[e.defects[0]], false, answer(e).content);
    }
    const good = plain.filter((e) => e.defects.length === 0).length / plain.length;
    assert.ok(good > 0.48 && good < 0.62, `good share ${good}`);
    const defects = new Set(plain.flatMap((e) => e.defects));
    assert.deepEqual(
      [...defects].sort(),
      [...WORLD_FEATURES].sort(),
      "every judged feature is sometimes wrong by default",
    );
  });

  it("answers selection prompts with fitting features that parseFeatureList reads back", () => {
    for (const e of of("select")) {
      assert.deepEqual(e.messages.slice(0, -1), selectionMessages(lib, e.prompt.text));
      const parsed = parseFeatureList(answer(e).content, lib);
      assert.deepEqual(parsed, e.features);
      assert.ok(
        parsed.length >= 2 && parsed.every((n) => FITTING[e.prompt.task.family].includes(n)),
        answer(e).content,
      );
      assert.equal(parsed[0], FITTING[e.prompt.task.family][0]);
    }
  });

  it("keeps every answer short and every family present", () => {
    for (const e of corpus) if (e.kind !== "select") assert.ok(answer(e).content.length < 170, answer(e).content);
    for (const fam of Object.keys(FITTING))
      assert.ok(
        corpus.some((e) => e.prompt.task.family === fam),
        fam,
      );
  });

  it("draws from one split when asked (all items by default)", () => {
    assert.ok(makeCorpus(3, 300, lib, { split: "train" }).every((e) => splitOf(e.prompt.item) === "train"));
    const splits = new Set(corpus.map((e) => splitOf(e.prompt.item)));
    assert.deepEqual([...splits].sort(), ["heldout", "train"]);
  });

  it("names only the library's features with a library that lacks some of the judged ones", () => {
    const small = mergeFeatureFile(
      {
        mode: "replace",
        features: ["Accuracy", "Safety", "Literariness"].map((n) => {
          const f = findFeature(lib, n)!;
          return {
            name: f.name,
            description: f.description,
            good: f.good,
            bad: f.bad,
            good_principle: f.goodPrinciple,
            bad_principle: f.badPrinciple,
            aliases: [],
          };
        }),
      },
      "test",
    );
    const c = makeCorpus(5, 400, small);
    const names = new Set(small.features.map((f) => f.name));
    assert.ok(c.every((e) => e.features.every((n) => names.has(n))));
    assert.ok(
      c.filter((e) => e.kind === "select").every((e) => parseFeatureList(answer(e).content, small).length >= 1),
    );
  });

  it('writes one {"messages"} JSON object per line', () => {
    const path = join(tempDir("sso-corpus-"), "corpus.jsonl");
    writeCorpus(path, corpus.slice(0, 50));
    const lines = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 50);
    assert.deepEqual(
      lines,
      corpus.slice(0, 50).map((e) => ({ messages: e.messages })),
    );
  });
});
