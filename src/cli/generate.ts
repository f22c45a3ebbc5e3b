// `sso generate --model DIR --data IN.jsonl --out OUT.jsonl`: one completion per input line of chat messages,
// with optional per-line sampling overrides. Lines are written in input order, each flushed to disk as soon as
// it and every line before it are done, so a rerun after a crash keeps the complete lines, drops a torn last
// line, and generates only the rest. Each line samples from its own seed (the run's seed mixed with the line's
// index unless the line sets one), so a resumed run writes exactly what an uninterrupted one would.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";
import { z } from "zod";
import { getBackend } from "../backends/index.js";
import { loadModel } from "../model/checkpoint.js";
import { generate, type GenerationRequest, type GenerationResult } from "../sample/generate.js";
import type { SamplingParams } from "../sample/sampling.js";
import { mixSeed } from "../tensor/rng.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { readJsonl } from "../util/jsonl.js";
import { progress } from "../util/progress.js";

const GenerateLine = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).min(1),
  temperature: z.number().min(0).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  max_new_tokens: z.number().int().positive().optional(),
  stop: z.array(z.string()).optional(),
  seed: z.number().int().optional(),
});

export interface GenerateCliOptions {
  model: string;
  data: string;
  out: string;
  backend: string;
  batch: number;
  seed: number;
  temperature: number;
  topP: number;
  topK: number;
  maxNewTokens: number;
  stop: string[];
}

/** Keeps the complete lines of an earlier run's output (cutting a torn last line off the file); returns their count. */
function resumeOutput(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, "utf8");
  const end = text.lastIndexOf("\n") + 1;
  const lines = text.slice(0, end).split("\n").filter((l) => l !== "");
  lines.forEach((l, i) => {
    let ok = false;
    try {
      ok = (JSON.parse(l) as { line?: number }).line !== undefined;
    } catch {
      ok = false;
    }
    if (!ok) throw new Error(`${path}:${i + 1}: not a line written by sso generate; move the file away to start over`);
  });
  if (end < Buffer.byteLength(text)) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
  return lines.length;
}

export function runGenerate(opts: GenerateCliOptions): void {
  const lines = readJsonl(opts.data, GenerateLine);
  const done = resumeOutput(opts.out);
  if (done > lines.length) throw new Error(`${opts.out}: has ${done} lines but ${opts.data} only ${lines.length}`);
  const model = loadModel(opts.model, getBackend(opts.backend));
  const tok = Tokenizer.fromDir(opts.model);
  const eosIds = tok.stopIds;
  const todo = lines.slice(done);
  const requests: GenerationRequest[] = todo.map(({ line, value }, i) => {
    const params: SamplingParams = {
      temperature: value.temperature ?? opts.temperature, topP: value.top_p ?? opts.topP, topK: value.top_k ?? opts.topK,
      maxNewTokens: value.max_new_tokens ?? opts.maxNewTokens, stop: value.stop ?? opts.stop,
    };
    try {
      return { promptIds: tok.encode(tok.applyChatTemplate(value.messages, { addGenerationPrompt: true })), params, seed: value.seed ?? mixSeed(opts.seed, done + i) };
    } catch (e) {
      throw new Error(`${opts.data}:${line}: ${(e as Error).message}`);
    }
  });
  if (done > 0) console.error(`resuming: ${done} of ${lines.length} lines already in ${opts.out}`);

  const fd = openSync(opts.out, "a");
  const pending = new Map<number, GenerationResult>();
  let written = 0, tokens = 0;
  const t0 = performance.now();
  const bar = progress("generate", todo.length, "lines");
  try {
    generate(model, requests, {
      maxBatch: opts.batch, eosIds, decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
      onTokens: (n) => (tokens += n),
      onResult: (i, r) => {
        pending.set(i, r);
        while (pending.has(written)) {
          const res = pending.get(written)!, src = todo[written];
          pending.delete(written);
          const record = { line: src.line, ...(src.value.id !== undefined ? { id: src.value.id } : {}), text: res.text, finish_reason: res.finishReason, n_tokens: res.tokens.length, completion_ids: res.tokens };
          writeSync(fd, JSON.stringify(record) + "\n");
          fsyncSync(fd);
          written++;
          bar.tick(1, { "tok/s": Math.round(tokens / ((performance.now() - t0) / 1000)) });
        }
      },
    });
  } finally {
    bar.stop();
    closeSync(fd);
  }
  console.error(`generated ${written} lines, ${tokens} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.out}`);
}
