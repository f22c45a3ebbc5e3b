// Our rewards against a PyTorch twin that computes them as transformers' *ForSequenceClassification does
// (test/rm/reward_twin.py: python/sso_torch's decoder in float64, the score Linear on every position, pooled at the
// rightmost non-pad token of a right-padded batch). Skipped where no Python imports torch.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, saveModel } from "../../src/model/folder.js";
import { rewardModelFromCausal, rewards } from "../../src/rm/model.js";
import { packageRoot } from "../../src/util/package-root.js";
import { tempDir } from "../helpers.js";

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
const GOLDEN = join(packageRoot(), "test", "fixtures", "golden", "tiny-qwen2");

describe("rewards against PyTorch", { skip: !hasTorch && `${PYTHON} cannot import torch` }, () => {
  it("equal transformers-style pooled rewards of a right-padded batch (1e-4 relative)", () => {
    const pad = 0,
      dir = join(tempDir(), "rm");
    const model = rewardModelFromCausal(loadModel(GOLDEN, getBackend("cpu")), pad, 3);
    saveModel(model, dir, { dtype: "F32" });
    const real = [
      [3, 14, 15, 9, 26, 5, 7],
      [35, 8],
      [9, 7, 9, 3, 2],
    ];
    const padded = real.map((r) => [...r, ...Array(7 - r.length).fill(pad)]);
    const idsFile = join(dir, "ids.json");
    writeFileSync(idsFile, JSON.stringify(padded));
    const r = spawnSync(PYTHON, [join(packageRoot(), "test", "rm", "reward_twin.py"), dir, idsFile], {
      encoding: "utf8",
      env: { ...process.env, PYTHONPATH: join(packageRoot(), "python") },
    });
    assert.equal(r.status, 0, r.stderr);
    const want = JSON.parse(r.stdout) as number[];
    const got = rewards(model, padded);
    const scale = Math.max(...want.map(Math.abs));
    want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= 1e-4 * scale, `row ${i}: ${got[i]} vs ${w}`));
    assert.ok(new Set(want).size === 3, "distinct rewards");
  });
});
