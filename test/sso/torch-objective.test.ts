// The objective contract between TypeScript and the torch trainer: test/fixtures/golden/objective.json is what
// src/sso/objective.ts computes now (every preset and variant: loss, parts, per-record derivatives), and the Python
// port passes it (python/tests, no torch needed), run whenever a python3 exists here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { PRESETS } from "../../src/sso/objective.js";
import { packageRoot } from "../../src/util/package-root.js";
import { OBJECTIVE_GOLDEN, objectiveGolden, objectiveGoldenText } from "../../tools/objective-golden.js";

const python = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", "import json"]).status === 0);

describe("objective golden fixture", () => {
  it("is what TypeScript computes now, for every preset (regenerate: node dist/tools/objective-golden.js)", () => {
    assert.equal(readFileSync(OBJECTIVE_GOLDEN, "utf8"), objectiveGoldenText());
    const names = objectiveGolden().cases.map((c) => c.name);
    for (const p of Object.keys(PRESETS)) assert.ok(names.includes(p), `preset ${p} is not in the fixture`);
  });

  it("the Python port passes it (python3 -m unittest, no torch)", { skip: !python && "no python3 here" }, () => {
    const r = spawnSync(python!, ["-m", "unittest", "discover", "-s", "tests", "-t", "."], {
      cwd: join(packageRoot(), "python"),
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Ran [1-9]\d* tests?/);
    assert.match(r.stderr, /\nOK\s*$/);
  });
});
