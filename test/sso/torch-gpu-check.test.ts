// tools/gpu-check.sh in its CPU mode (no CUDA here): one JSON line that says the CUDA parts were skipped, a tiny
// model trained full and with LoRA on CPU (tokens/s, peak RSS, precision fp32) and killed at step 3 + resumed
// ending where an uninterrupted run does. Skipped where /usr/bin/python3 cannot import torch.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../../src/util/package-root.js";

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
const cuda =
  hasTorch &&
  spawnSync(PYTHON, ["-c", "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"]).status === 0;

describe("tools/gpu-check.sh", { skip: !hasTorch && `${PYTHON} cannot import torch` }, () => {
  it("--small prints one JSON line: CUDA parts skipped, CPU full and LoRA steps, resume = uninterrupted", () => {
    const r = spawnSync("bash", [join(packageRoot(), "tools", "gpu-check.sh"), "--small"], {
      encoding: "utf8",
      env: { ...process.env, SSO_PYTHON: PYTHON, SSO_GPU_CHECK_TIMEOUT: "240" },
      timeout: 300_000,
      killSignal: "SIGKILL",
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, r.stdout);
    const res = JSON.parse(lines[0]);
    assert.match(res.skipped, cuda ? /--small: CUDA parts skipped/ : /no CUDA device: the CUDA parts .* did not run/);
    for (const k of ["cpu_full", "cpu_lora"]) {
      assert.ok(res[k].tokens_per_s > 0, `${k}: ${JSON.stringify(res[k])}`);
      assert.equal(res[k].precision, "fp32");
      assert.ok(res[k].peak_rss_gb > 0, k);
      assert.equal(res[k].mfu, null);
    }
    assert.equal(res.resume.max_abs_diff, 0);
    assert.deepEqual(res.resume.steps, [1, 2, 3]);
  });
});
