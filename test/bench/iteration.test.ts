// `npm run bench -- iteration --quick` (bench/iteration.ts): a whole SSO iteration on a tiny model with Qwen's
// vocabulary and real tokenizer, ours and (with Debian's python3-torch) the PyTorch twin; its JSON line carries
// records/hour, every stage's seconds, tokens/s, peak RSS, the work both sides did and the ratio. Not a speed test.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../../src/util/package-root.js";

const hasTorch = spawnSync("/usr/bin/python3", ["-c", "import torch"]).status === 0;

/** Runs the bench in its own process group, killed as a group after 5 minutes; resolves with stdout. */
function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(packageRoot(), "dist", "bench", "main.js"), "iteration", ...args], {
      detached: true,
      env: { ...process.env, SSO_BENCH_THREADS: "1" },
    });
    let stdout = "",
      stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => process.kill(-p.pid!, "SIGKILL"), 300_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("iteration bench, quick mode", () => {
  it("runs one iteration on both sides and its JSON line has every stage, the work and the ratio", async () => {
    const r = await bench(["--quick", "--records", "2", ...(hasTorch ? [] : ["--no-torch"])]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(j.bench, "iteration");
    assert.equal(j.quick_ours_records, 2);
    for (const k of ["records_per_hour", "total_s", "sample_tok_s", "score_tok_s", "train_tok_s", "peak_rss_gb"])
      assert.ok(j[`quick_ours_${k}`] > 0, k);
    for (const s of ["select", "sample", "score", "train", "merge", "other"])
      assert.ok(j[`quick_ours_${s}_s`] >= 0, `${s}_s`);
    // The stages add up to the whole iteration (each rounded to 0.1 s).
    const sum = ["select", "sample", "score", "train", "merge", "other"].reduce(
      (a, s) => a + j[`quick_ours_${s}_s`],
      0,
    );
    assert.ok(Math.abs(sum - j.quick_ours_total_s) < 0.5, `stages ${sum} s vs total ${j.quick_ours_total_s} s`);
    // 32 selection tokens and 8 for each of the three answers of both records (random weights: an end token is rare).
    assert.ok(j.quick_ours_generated_tokens > 100 && j.quick_ours_generated_tokens <= 2 * 32 + 2 * 3 * 8);
    const w = j.quick_work;
    assert.equal(w.sample_new, 8);
    assert.ok(w.prompt.pos > 300 && w.prompt.neg > 300 && w.prompt.plain < 100, JSON.stringify(w.prompt));
    if (hasTorch) {
      for (const k of ["select_s", "sample_chosen_s", "sample_rejected_s", "sample_raw_s", "score_s", "train_s"])
        assert.ok(j[`quick_torch_${k}`] > 0, k);
      assert.ok(j.quick_ratio_vs_torch > 0);
    }
  });
});
