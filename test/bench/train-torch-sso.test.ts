// The PyTorch twin of `npm run bench -- big` (bench/train_torch.py, mode "sso") on a tiny model: shared prompt
// prefixes give the plain path's log-probs and gradients (within float tolerance), for full fine-tuning and for LoRA
// by hand on a bf16 base with recomputation, and a timed step (or a scoring pass) reports its numbers as one JSON
// line. Skipped without Debian's python3-torch.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { packageRoot } from "../../src/util/package-root.js";

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
const SPEC = {
  mode: "sso",
  config: {
    model_type: "qwen2",
    vocab_size: 300,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
  },
  records: 2,
  steps: 1,
  system: 12,
  query: 5,
  response: 7,
};

function twin(extra: Record<string, unknown>): Record<string, number> {
  const r = spawnSync(PYTHON, [join(packageRoot(), "bench", "train_torch.py"), JSON.stringify({ ...SPEC, ...extra })], {
    encoding: "utf8",
    env: { ...process.env, SSO_BENCH_THREADS: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("the PyTorch twin's SSO step", { skip: hasTorch ? false : "no /usr/bin/python3 with torch" }, () => {
  it("shared prompts equal the plain path (full, and LoRA on a bf16 base with recomputation)", () => {
    for (const extra of [{}, { lora: { r: 4 }, base: "bf16", recompute: true }]) {
      const c = twin({ ...extra, check: true });
      assert.ok(c.max_grad > 0, "gradients flow");
      assert.ok(c.max_logp_diff < 1e-4, `log-probs differ by ${c.max_logp_diff}`);
      assert.ok(c.max_grad_diff < 1e-5 * Math.max(1, c.max_grad), `gradients differ by ${c.max_grad_diff}`);
    }
  });

  it("a timed LoRA step trains only the adapters and reports records/min, tokens/s and peak RSS", () => {
    const r = twin({ lora: { r: 4 }, shared: true });
    // rank 4 on q, k, v, o, gate, up, down of 2 layers: 4·((32+32) + 2·(32+16) + (32+32) + 2·(32+64) + (64+32)) each
    assert.equal(r.trainable, 2 * 4 * (64 + 96 + 64 + 192 + 96));
    assert.equal(r.tokens_per_step, 2 * (2 * (5 + 7) + 4 * (17 + 7)));
    for (const k of ["records_per_min", "tokens_per_s", "peak_rss_gb"]) assert.ok(r[k] > 0, k);
  });

  it("a scoring pass on a bf16 base reports tokens/s and peak RSS", () => {
    const r = twin({ score: true, base: "bf16", records: 1 });
    for (const k of ["tokens_per_s", "peak_rss_gb"]) assert.ok(r[k] > 0, k);
  });
});
