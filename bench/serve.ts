// Serve benchmark: a bounded loopback load test of `sso serve` (in-process, 127.0.0.1, a free port) on a tiny
// random model (~1M parameters, byte-level tokenizer): a fixed number of /v1/completions requests (short text
// prompt, 32 new tokens, seeded sampling) sent by a small hand-written client at a fixed concurrency, for a few
// --max-batch settings. Reports requests/s, generated tokens/s, p50/p99 latency and errors; ends with one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { getBackend } from "../src/backends/index.js";
import { parseConfig } from "../src/model/config.js";
import { initModel, saveModel } from "../src/model/folder.js";
import { serve } from "../src/serve/server.js";
import { writeByteLevelTokenizer } from "../src/tokenizer/byte-level.js";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";
import { round } from "./timing.js";

const REQUESTS = 256,
  CONCURRENCY = 32,
  NEW_TOKENS = 32,
  MAX_BATCHES = [1, 8, 32];

const quantile = (xs: number[], q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

export async function benchServe(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "sso-bench-serve-"));
  try {
    writeByteLevelTokenizer(join(work, "tok"));
    const tok = Tokenizer.fromDir(join(work, "tok"));
    const config = parseConfig({
      model_type: "qwen2",
      vocab_size: tok.vocabSize,
      hidden_size: 128,
      intermediate_size: 512,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 256,
      tie_word_embeddings: true,
    });
    const model = initModel(config, 1, getBackend("cpu"));
    saveModel(model, join(work, "model"), { dtype: "F32", carryFrom: join(work, "tok") });
    console.log(
      `serve bench · ${model.backend.description} · ${REQUESTS} requests, concurrency ${CONCURRENCY}, ${NEW_TOKENS} new tokens each, loopback`,
    );
    console.log("max-batch   req/s   tokens/s   p50 ms   p99 ms   errors");
    const summary: Record<string, number | string> = { bench: "serve", requests: REQUESTS, concurrency: CONCURRENCY };
    for (const maxBatch of MAX_BATCHES) {
      const s = await serve({ model, tok, modelName: "bench", port: 0, maxBatch, maxQueue: REQUESTS });
      const latencies: number[] = [];
      let errors = 0,
        tokens = 0,
        next = 0;
      const one = async (i: number) => {
        const t0 = performance.now();
        try {
          const res = await fetch(`${s.url}/v1/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              prompt: `Request ${i}: tell me about the sky.`,
              max_tokens: NEW_TOKENS,
              temperature: 0.8,
              seed: i,
            }),
          });
          const body = (await res.json()) as { usage?: { completion_tokens: number } };
          if (res.status !== 200) errors++;
          else tokens += body.usage?.completion_tokens ?? 0;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      };
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < REQUESTS) await one(next++);
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      await s.close();
      latencies.sort((a, b) => a - b);
      const rps = round(REQUESTS / seconds, 1),
        tps = round(tokens / seconds, 0),
        p50 = round(quantile(latencies, 0.5), 1),
        p99 = round(quantile(latencies, 0.99), 1);
      console.log(
        `${String(maxBatch).padStart(9)} ${String(rps).padStart(7)} ${String(tps).padStart(10)} ${String(p50).padStart(8)} ${String(p99).padStart(8)} ${String(errors).padStart(8)}`,
      );
      Object.assign(summary, {
        [`b${maxBatch}_rps`]: rps,
        [`b${maxBatch}_tokens_per_s`]: tps,
        [`b${maxBatch}_p50_ms`]: p50,
        [`b${maxBatch}_p99_ms`]: p99,
        [`b${maxBatch}_errors`]: errors,
      });
    }
    console.log(JSON.stringify(summary));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
