// Generation benchmark: greedy decode throughput (tokens/s) at batch 1 and 16 for the ~10M and ~40M configs of
// the train bench, ours against node-llama-cpp on an f32 GGUF export of the same weights (the same prompts, the
// same number of new tokens, end-of-sequence ignored). Both sides time decoding only: llama.cpp evaluates the
// prompt before its clock starts, and ours is timed as (prefill + 64 tokens) − (prefill + 1 token), over 63 tokens.
// Each side reports its best of three runs (llama.cpp: of each thread count).
// Ends with one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { getBackend } from "../src/backends/index.js";
import { exportGguf } from "../src/export/gguf.js";
import { parseConfig } from "../src/model/config.js";
import { initModel, saveModel } from "../src/model/folder.js";
import type { Model } from "../src/model/model.js";
import { generate } from "../src/sample/generate.js";
import { Rng } from "../src/tensor/rng.js";
import { writeByteLevelTokenizer } from "../src/tokenizer/byte-level.js";
import { llamaCppDecodeTokensPerSecond } from "./llama-cpp.js";
import { round } from "./timing.js";
import { TRAIN_CONFIGS } from "./train.js";

const PROMPT_TOKENS = 16,
  NEW_TOKENS = 64,
  BATCHES = [1, 16],
  THREADS = [1, 2],
  // Best of this many runs on each side: this machine's memory bandwidth, which batch-1 decoding is bound by, varies
  // by ±20 % from one second to the next with its neighbours' load.
  TRIES = 3;

function oursTokensPerSecond(model: Model, prompt: number[], batch: number): number {
  const run = (maxNewTokens: number): number => {
    const params = { temperature: 0, topP: 1, topK: 0, maxNewTokens, stop: [] };
    const requests = Array.from({ length: batch }, (_, i) => ({ promptIds: prompt, params, seed: i }));
    const t0 = performance.now();
    generate(model, requests, { maxBatch: batch, eosIds: [], decode: () => "" });
    return performance.now() - t0;
  };
  run(NEW_TOKENS); // warm-up
  let best = 0;
  for (let i = 0; i < TRIES; i++)
    best = Math.max(best, (batch * (NEW_TOKENS - 1)) / ((run(NEW_TOKENS) - run(1)) / 1000));
  return best;
}

export async function benchGenerate(): Promise<void> {
  const be = getBackend("cpu");
  const summary: Record<string, number | string> = { bench: "generate" };
  console.log(
    `generate bench · ${be.description} · ${PROMPT_TOKENS}-token prompt, ${NEW_TOKENS} new tokens per sequence, greedy`,
  );
  console.log(
    ["model", "batch", "ours tok/s", "llama.cpp tok/s", "(threads)", "ours/llama.cpp"]
      .map((h) => h.padEnd(16))
      .join(""),
  );
  for (const name of ["10M", "40M"]) {
    const work = mkdtempSync(join(tmpdir(), "sso-bench-gen-"));
    try {
      // A byte-level tokenizer gives the GGUF a valid vocabulary; the exporter pads it to the model's vocab size.
      writeByteLevelTokenizer(join(work, "tok"));
      const config = parseConfig({ ...TRAIN_CONFIGS[name] });
      const model = initModel(config, 1, be);
      const dir = join(work, "model");
      saveModel(model, dir, { dtype: "F32", carryFrom: join(work, "tok") });
      exportGguf(dir, join(work, "model.gguf"), { dtype: "F32" });
      const rng = new Rng(3),
        prompt = Array.from({ length: PROMPT_TOKENS }, () => rng.int(256));
      for (const batch of BATCHES) {
        const ours = oursTokensPerSecond(model, prompt, batch);
        let best = 0,
          bestThreads = 0;
        for (const threads of THREADS)
          for (let i = 0; i < TRIES; i++) {
            const tps = await llamaCppDecodeTokensPerSecond(join(work, "model.gguf"), {
              batch,
              newTokens: NEW_TOKENS,
              promptTokens: prompt,
              threads,
            });
            if (tps > best) [best, bestThreads] = [tps, threads];
          }
        console.log(
          [name, batch, round(ours, 0), round(best, 0), bestThreads, `${round(ours / best, 2)}×`]
            .map((c) => String(c).padEnd(16))
            .join(""),
        );
        Object.assign(summary, {
          [`${name}_b${batch}_ours_tok_s`]: round(ours, 0),
          [`${name}_b${batch}_llamacpp_tok_s`]: round(best, 0),
          [`${name}_b${batch}_ratio`]: round(ours / best, 2),
        });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify(summary));
}
