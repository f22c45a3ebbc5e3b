// The feature library and the synthesis config from files: JSON and YAML, extending vs replacing the built-in
// features, and bad files reported as one line naming the file and the key.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config.js";
import { resolveSynthConfig, SYNTH_DEFAULTS } from "../../src/sso/config.js";
import { DEFAULT_FEATURES, DEFAULT_LIBRARY, loadFeatureLibrary } from "../../src/sso/features.js";
import { checkConfig } from "../../src/sso/synth.js";
import { tempDir } from "../helpers.js";

const dir = tempDir("sso-features-");
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const entry = (name: string) => ({
  name,
  description: `${name} matters`,
  good: `${name.toLowerCase()}-good`,
  bad: `${name.toLowerCase()}-bad`,
  good_principle: `Do ${name} well.`,
  bad_principle: `Do ${name} badly.`,
});
/** Runs fn, expecting a one-line error that matches re. */
const throwsOneLine = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), e.message);
    return true;
  });
};

describe("feature library", () => {
  it("the built-in library has the spec's eight features with their adjectives and two principles each", () => {
    assert.deepEqual(
      DEFAULT_FEATURES.map((f) => `${f.name}:${f.good}/${f.bad}`),
      [
        "Safety:safe/unsafe",
        "Logicality:logical/illogical",
        "Comprehensiveness:comprehensive/incomplete",
        "Helpfulness:helpful/unhelpful",
        "Literariness:literary/boring",
        "Accuracy:accurate/inaccurate",
        "Engagement:engaging/dull",
        "Concision:concise/verbose",
      ],
    );
    for (const f of DEFAULT_FEATURES) {
      for (const p of [f.goodPrinciple, f.badPrinciple])
        assert.ok(p.split(". ").length >= 2 && p.length > 80, `${f.name}: ${p}`);
    }
    assert.equal(loadFeatureLibrary(), DEFAULT_LIBRARY);
  });

  it("a JSON file extends the library: new features appended, a built-in name replaced in place", () => {
    const lib = loadFeatureLibrary(
      file("extend.json", JSON.stringify({ features: [entry("Humour"), { ...entry("Safety"), good: "harmless" }] })),
    );
    assert.deepEqual(
      lib.features.map((f) => f.name),
      [...DEFAULT_FEATURES.map((f) => f.name), "Humour"],
    );
    assert.equal(lib.features[0].good, "harmless");
    assert.equal(lib.features[8].goodPrinciple, "Do Humour well.");
    assert.deepEqual(lib.examples, DEFAULT_LIBRARY.examples);
  });

  it("a YAML file in replace mode is the whole library; examples keep only the names it has", () => {
    const yaml = [
      "mode: replace",
      "features:",
      "  - name: Accuracy",
      "    description: correct facts",
      "    good: accurate",
      "    bad: inaccurate",
      "    good_principle: Get every fact right.",
      "    bad_principle: Get the facts wrong.",
      "    aliases: [correct]",
      "  - name: Humour",
      "    description: funny",
      "    good: funny",
      "    bad: humourless",
      "    good_principle: Make the reader smile.",
      "    bad_principle: Be grim.",
    ].join("\n");
    const lib = loadFeatureLibrary(file("replace.yaml", yaml));
    assert.deepEqual(
      lib.features.map((f) => f.name),
      ["Accuracy", "Humour"],
    );
    assert.deepEqual(lib.features[0].aliases, ["correct"]);
    assert.deepEqual(
      lib.examples.map((e) => e.features),
      [["Accuracy"], ["Accuracy"]],
    );
  });

  it("a file's own examples replace the built-in ones and must name library features", () => {
    const lib = loadFeatureLibrary(
      file(
        "ex.json",
        JSON.stringify({
          features: [entry("Humour")],
          examples: [{ query: "a joke?", features: ["humour", "concision"] }],
        }),
      ),
    );
    assert.deepEqual(lib.examples, [{ query: "a joke?", features: ["Humour", "Concision"] }]);
    throwsOneLine(
      () =>
        loadFeatureLibrary(
          file(
            "ex-bad.json",
            JSON.stringify({ features: [entry("Humour")], examples: [{ query: "q", features: ["Wit"] }] }),
          ),
        ),
      /ex-bad\.json: examples\.0\.features\.0: "Wit" is not a feature/,
    );
  });

  it("bad files are one-line errors naming the file and the key", () => {
    const cases: [string, string, RegExp][] = [
      ["blank.json", "", /blank\.json: invalid JSON/],
      [
        "typo.json",
        JSON.stringify({ features: [{ ...entry("A"), goood: "x" }] }),
        /typo\.json: features\.0\.goood: unknown key/,
      ],
      [
        "type.json",
        JSON.stringify({ features: [{ ...entry("A"), good: 3 }] }),
        /type\.json: features\.0\.good: .*string/,
      ],
      [
        "empty.json",
        JSON.stringify({ features: [{ ...entry("A"), bad_principle: "  " }] }),
        /empty\.json: features\.0\.bad_principle: must not be empty/,
      ],
      [
        "comma.json",
        JSON.stringify({ features: [{ ...entry("A"), name: "A, B" }] }),
        /comma\.json: features\.0\.name: must not contain a comma/,
      ],
      [
        "twice.json",
        JSON.stringify({ features: [entry("A"), entry("a")] }),
        /twice\.json: features\.1\.name: "a" appears twice/,
      ],
      ["mode.json", JSON.stringify({ mode: "merge", features: [entry("A")] }), /mode\.json: mode: /],
      ["syntax.json", "{ features: [", /syntax\.json: invalid JSON/],
      ["syntax.yaml", "features: [a, b\n  c: {", /syntax\.yaml: invalid YAML/],
      ["list.yml", "- a\n- b\n", /list\.yml: [A-Z]/],
    ];
    for (const [name, text, re] of cases) throwsOneLine(() => loadFeatureLibrary(file(name, text)), re);
    throwsOneLine(() => loadFeatureLibrary(join(dir, "nope.yaml")), /nope\.yaml: cannot read \(ENOENT\)/);
  });
});

describe("synthesis config", () => {
  it("defaults are the spec's", () => {
    assert.equal(SYNTH_DEFAULTS.k, 2);
    assert.equal(SYNTH_DEFAULTS.concisionProb, 0.2);
    assert.deepEqual(SYNTH_DEFAULTS.sampling, {
      temperature: 0.7,
      topP: 0.8,
      topK: 0,
      maxNewTokens: 256,
      rawGreedy: false,
    });
    assert.equal(SYNTH_DEFAULTS.queryPrinciples, false);
    assert.deepEqual(SYNTH_DEFAULTS.filters, { dropTruncated: false, logpOrder: false });
    assert.equal(SYNTH_DEFAULTS.selection.temperature, 0);
  });

  it("a YAML file sets nested keys, the rest keep their defaults, and flags override the file", () => {
    const path = file(
      "c.yaml",
      "synth:\n  k: 3\n  sampling:\n    rawGreedy: true\n    maxNewTokens: 100\n  features: lib.json\n  seed: 5\n",
    );
    const c = resolveSynthConfig(loadConfig(path).synth, path, { seed: 9, maxNewTokens: 64 });
    assert.equal(c.k, 3);
    assert.equal(c.seed, 9);
    assert.deepEqual(c.sampling, { ...SYNTH_DEFAULTS.sampling, rawGreedy: true, maxNewTokens: 64 });
    assert.equal(c.features, join(dir, "lib.json")); // relative to the config file
    assert.equal(resolveSynthConfig(SYNTH_DEFAULTS, undefined, { features: "x.json" }).features, "x.json");
  });

  it("an unknown or mistyped key is a one-line error naming it", () => {
    throwsOneLine(
      () => loadConfig(file("u.json", JSON.stringify({ synth: { sampling: { temprature: 1 } } }))),
      /u\.json: synth\.sampling\.temprature: unknown key/,
    );
    throwsOneLine(() => loadConfig(file("t.yaml", "synth:\n  k: two\n")), /t\.yaml: synth\.k: .*number/);
    throwsOneLine(
      () => loadConfig(file("r.json", JSON.stringify({ synth: { sampling: { topP: 0 } } }))),
      /r\.json: synth\.sampling\.topP: /,
    );
    throwsOneLine(() => resolveSynthConfig(SYNTH_DEFAULTS, undefined, { batch: 0 }), /command line: batch: /);
  });

  it("a config the library cannot serve is refused: k above its size, Concision wanted but missing", () => {
    const two = { features: DEFAULT_FEATURES.slice(0, 2), examples: [] };
    throwsOneLine(
      () => checkConfig({ ...SYNTH_DEFAULTS, k: 3, concisionProb: 0 }, two),
      /config: k is 3 but the feature library has only 2 features/,
    );
    throwsOneLine(
      () => checkConfig(SYNTH_DEFAULTS, two),
      /config: concisionProb is 0.2 but the feature library has no feature named "Concision"/,
    );
    assert.doesNotThrow(() => checkConfig({ ...SYNTH_DEFAULTS, concisionProb: 0 }, two));
    const lower = { features: [...two.features, { ...DEFAULT_FEATURES[7], name: "concision" }], examples: [] };
    assert.doesNotThrow(() => checkConfig(SYNTH_DEFAULTS, lower));
  });
});
