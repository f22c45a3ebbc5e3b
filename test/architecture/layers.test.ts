// The import rules of docs/ARCHITECTURE.md, as `npm run lint` checks them (dependency-cruiser with
// .dependency-cruiser.cjs): the tree has no cycle and no upward import; and the checker does fail on a copy of
// the tree with a deliberately added cycle, an upward import and a folder in no layer — so the lint step cannot
// pass by checking nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../../src/util/package-root.js";
import { tempDir } from "../helpers.js";

const ROOT = packageRoot(),
  DEPCRUISE = join(ROOT, "node_modules", ".bin", "depcruise");

/** Runs the checker as `npm run lint` does (its `err` report) over `src` in `cwd` with the repository's rules: its
 *  exit status and each violation as "rule from" (the report's lines "error RULE: FROM → …"). */
function cruise(cwd: string): { status: number | null; violations: string[] } {
  const r = spawnSync(DEPCRUISE, ["src", "--config", join(ROOT, ".dependency-cruiser.cjs"), "--output-type", "err"], {
    cwd,
    encoding: "utf8",
    timeout: 120_000,
    killSignal: "SIGKILL",
  });
  assert.ok(r.status !== null && !r.error, `depcruise did not finish: ${r.error?.message ?? r.signal}`);
  const violations = [...r.stdout.matchAll(/^\s*error ([\w-]+): (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  return { status: r.status, violations };
}

describe("layers", () => {
  it("src/ has no import cycle, no upward import and no module outside the layer table", () => {
    const { status, violations } = cruise(ROOT);
    assert.deepEqual(violations, []);
    assert.equal(status, 0);
  });

  it("the checker fails on a cycle, an upward import and an unplaced folder", () => {
    const work = tempDir("sso-layers-");
    cpSync(join(ROOT, "src"), join(work, "src"), { recursive: true });
    cpSync(join(ROOT, "tsconfig.json"), join(work, "tsconfig.json"));
    // An upward import: the model layer reaching into the method (src/sso).
    writeFileSync(join(work, "src/model/upward.ts"), 'export { PAIRS } from "../sso/pairs.js";\n');
    // A cycle inside one layer.
    writeFileSync(join(work, "src/util/cycle-a.ts"), 'import { b } from "./cycle-b.js";\nexport const a = () => b;\n');
    writeFileSync(join(work, "src/util/cycle-b.ts"), 'import { a } from "./cycle-a.js";\nexport const b = () => a;\n');
    // A folder in no layer.
    cpSync(join(work, "src/util/cycle-a.ts"), join(work, "src/nowhere.ts"));
    const { status, violations } = cruise(work);
    assert.notEqual(status, 0);
    const found = new Set(violations);
    assert.ok(found.has("upward-from-model src/model/upward.ts"), [...found].join("; "));
    assert.ok(found.has("no-circular src/util/cycle-a.ts"), [...found].join("; "));
    assert.ok(found.has("unlisted src/nowhere.ts"), [...found].join("; "));
  });
});
