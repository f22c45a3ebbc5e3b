// Generation into a JSONL file, the library function behind `sso generate --model DIR --data IN.jsonl --out OUT.jsonl`:
// one completion per input line of chat messages,
// with optional per-line sampling overrides. Lines are written in input order, each flushed to disk as soon as
// it and every line before it are done, so a rerun after a crash keeps the complete lines, drops a torn last
// line, and generates only the rest. Each line samples from its own seed (the run's seed mixed with the line's
// index unless the line sets one), so a resumed run writes exactly what an uninterrupted one would — provided it
// runs with the same arguments: OUT.args.json (written atomically before the first line) records everything the
// lines depend on, and a rerun with another model, input, seed or sampling setting is refused rather than mixed in.
// A line too long for the model's context (prompt + max_new_tokens) is skipped and counted as too_long, as synth
// does, and named FILE:LINE on stderr; the output's "line" keys show the gap.
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, statSync, truncateSync, writeSync } from "node:fs";
import { z } from "zod";
import { getBackend } from "../backends/index.js";
import { loadModel, readConfig } from "../model/folder.js";
import { policyHash } from "../model/hash.js";
import { openTokenizer } from "../model/open.js";
import { adapterHash } from "../model/peft.js";
import { mixSeed } from "../tensor/rng.js";
import { ChatMessageSchema } from "../tokenizer/chat-line.js";
import type { ChatMessage } from "../tokenizer/tokenizer.js";
import { outputTarget, syncFd, writeFileAtomic } from "../util/atomic.js";
import { fingerprintDifference } from "../util/fingerprint.js";
import { readJsonl } from "../util/jsonl.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { type GenerationRequest, type GenerationResult, generate } from "./generate.js";
import { MaxNewTokens, type SamplingParams, Seed, Temperature, TopK, TopP } from "./sampling.js";

// Strict: a misspelt override ("tempreature") is an error naming the key, as in the config file and `sso serve`.
const GenerateLine = z.strictObject({
  id: z.union([z.string(), z.number()]).optional(),
  messages: z.array(ChatMessageSchema).min(1),
  temperature: Temperature.optional(),
  top_p: TopP.optional(),
  top_k: TopK.optional(),
  max_new_tokens: MaxNewTokens.optional(),
  stop: z.array(z.string()).optional(),
  seed: Seed.optional(),
});

export interface GenerateFileOptions {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
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

/** Everything the output lines depend on (not --batch or progress, which change how fast, not what). */
function argsFingerprint(opts: GenerateFileOptions): Record<string, unknown> {
  return {
    version: 1,
    model_hash: policyHash(opts.model), // config.json and the weight files
    ...(opts.adapter !== undefined && { adapter_hash: adapterHash(opts.adapter) }),
    data_sha256: createHash("sha256").update(readFileSync(opts.data)).digest("hex"),
    backend: opts.backend,
    seed: opts.seed,
    temperature: opts.temperature,
    top_p: opts.topP,
    top_k: opts.topK,
    max_new_tokens: opts.maxNewTokens,
    stop: opts.stop,
  };
}

export const argsPath = (out: string): string => `${out}.args.json`;

/**
 * Refuses to continue an OUT that holds lines written with other arguments than these (as recorded in OUT.args.json),
 * or lines whose arguments cannot be known (no sidecar). An empty or absent OUT can be (re)started with any.
 */
export function checkOutputArgs(out: string, fingerprint: Record<string, unknown>): void {
  if (!existsSync(out) || statSync(out).size === 0) return;
  const sidecar = argsPath(out);
  const away = `use another --out, or move ${out} and ${sidecar} away to start over`;
  if (!existsSync(sidecar))
    throw new Error(
      `${out}: exists but ${sidecar} does not, so the arguments it was written with are unknown; ${away}`,
    );
  let was: Record<string, unknown>;
  try {
    was = JSON.parse(readFileSync(sidecar, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${sidecar}: unreadable (${(e as Error).message.split("\n")[0]}); ${away}`);
  }
  const diff = fingerprintDifference(was, fingerprint);
  if (diff) throw new Error(`${out}: was written with other arguments (${diff}); ${away}`);
}

/**
 * Keeps the complete lines of an earlier run's output (cutting a torn last line off the file); returns their count.
 * Every kept line must be a JSON object with a "line" key, as `command` writes them.
 */
export function resumeOutput(path: string, command = "sso generate"): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, "utf8");
  const end = text.lastIndexOf("\n") + 1;
  const lines = text
    .slice(0, end)
    .split("\n")
    .filter((l) => l !== "");
  lines.forEach((l, i) => {
    let ok = false;
    try {
      ok = (JSON.parse(l) as { line?: number }).line !== undefined;
    } catch {
      ok = false;
    }
    if (!ok) throw new Error(`${path}:${i + 1}: not a line written by ${command}; move the file away to start over`);
  });
  if (end < Buffer.byteLength(text)) truncateSync(path, Buffer.byteLength(text.slice(0, end)));
  return lines.length;
}

/**
 * Best-of-n: n samples per line (seeds mixed from the line's seed), of which the one `score` rates highest (the
 * first on ties) is written, with its reward and all n. The scorer is given by the caller (src/rm/best-of.ts).
 */
export interface BestOf {
  n: number;
  /** Rewards of candidate answers to one conversation, in order. */
  score: (messages: ChatMessage[], texts: string[]) => ArrayLike<number>;
  /** What the choice depends on (e.g. the reward model's hash), recorded in OUT.args.json. */
  fingerprint: Record<string, unknown>;
}

/** Generates (or resumes) one completion per line of opts.data into opts.out (the best of n with bestOf). */
export function generateFile(opts: GenerateFileOptions, bestOf?: BestOf): void {
  const lines = readJsonl(opts.data, GenerateLine);
  checkOutputFile("--out", opts.out, { append: true });
  const tok = openTokenizer(opts.model);
  const { maxPositionEmbeddings: maxPositions } = readConfig(opts.model);
  const N = bestOf?.n ?? 1,
    fingerprint = { ...argsFingerprint(opts), ...(bestOf && { best_of: N, ...bestOf.fingerprint }) };
  // A device or FIFO (/dev/null, /dev/stdout) is written through: nothing to resume, no OUT.args.json beside it.
  const resumable = outputTarget(opts.out).kind === "replace";
  if (resumable) checkOutputArgs(opts.out, fingerprint);
  // Every line's request (the seed: the run's mixed with the line's index, unless the line sets one). A line whose
  // prompt + max_new_tokens exceeds the context is skipped and counted, as synth counts too_long prompts: the rest
  // of the run goes on, and which lines are skipped depends only on what OUT.args.json records, so a resumed run
  // skips the same ones.
  const all = lines.map(({ line, value }, k) => {
    const params: SamplingParams = {
      temperature: value.temperature ?? opts.temperature,
      topP: value.top_p ?? opts.topP,
      topK: value.top_k ?? opts.topK,
      maxNewTokens: value.max_new_tokens ?? opts.maxNewTokens,
      stop: value.stop ?? opts.stop,
    };
    try {
      const promptIds = tok.encode(tok.applyChatTemplate(value.messages, { addGenerationPrompt: true }));
      return { line, value, request: { promptIds, params, seed: value.seed ?? mixSeed(opts.seed, k) } };
    } catch (e) {
      throw new Error(`${opts.data}:${line}: ${(e as Error).message}`);
    }
  });
  const fits = (r: GenerationRequest): boolean => r.promptIds.length + r.params.maxNewTokens <= maxPositions;
  const eligible = all.filter((x) => fits(x.request)),
    tooLong = all.filter((x) => !fits(x.request));
  const done = resumable ? resumeOutput(opts.out) : 0;
  if (done > eligible.length)
    throw new Error(`${opts.out}: has ${done} lines but ${opts.data} only ${eligible.length} to generate`);
  const model = loadModel(opts.model, getBackend(opts.backend), { adapter: opts.adapter, keep16: true });
  const eosIds = tok.stopIds;
  const todo = eligible.slice(done);
  const perLine: GenerationRequest[] = todo.map((x) => x.request);
  const requests =
    N === 1
      ? perLine
      : perLine.flatMap((r) => Array.from({ length: N }, (_, k) => ({ ...r, seed: mixSeed(r.seed, k) })));
  if (tooLong.length > 0)
    console.error(
      `skipping ${tooLong.length} too_long line${tooLong.length === 1 ? "" : "s"} (prompt + max_new_tokens > max_position_embeddings ${maxPositions}): ${tooLong
        .slice(0, 5)
        .map((x) => `${opts.data}:${x.line}`)
        .join(", ")}${tooLong.length > 5 ? ", …" : ""}`,
    );
  if (done > 0) console.error(`resuming: ${done} of ${lines.length} lines already in ${opts.out}`);

  // Recorded before the first line (every input is valid by now), so any line in OUT has its arguments on disk.
  if (done === 0 && resumable) writeFileAtomic(argsPath(opts.out), `${JSON.stringify(fingerprint, null, 2)}\n`);
  const fd = openSync(opts.out, "a");
  const pending = new Map<number, GenerationResult>();
  let written = 0,
    tokens = 0;
  const t0 = performance.now();
  const bar = progress("generate", todo.length, "lines");
  try {
    generate(model, requests, {
      maxBatch: opts.batch,
      eosIds,
      decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
      onTokens: (n) => (tokens += n),
      onResult: (i, r) => {
        pending.set(i, r);
        while (Array.from({ length: N }, (_, k) => written * N + k).every((j) => pending.has(j))) {
          const candidates = Array.from({ length: N }, (_, k) => pending.get(written * N + k)!),
            src = todo[written];
          for (let k = 0; k < N; k++) pending.delete(written * N + k);
          const rewards = bestOf
            ? Array.from(
                bestOf.score(
                  src.value.messages,
                  candidates.map((c) => c.text),
                ),
              )
            : [];
          const best = bestOf ? rewards.indexOf(Math.max(...rewards)) : 0,
            res = candidates[best];
          const record = {
            line: src.line,
            ...(src.value.id !== undefined ? { id: src.value.id } : {}),
            text: res.text,
            finish_reason: res.finishReason,
            n_tokens: res.tokens.length,
            completion_ids: res.tokens,
            ...(bestOf && { reward: rewards[best], rewards }),
          };
          writeSync(fd, `${JSON.stringify(record)}\n`);
          syncFd(fd);
          written++;
          bar.tick(1, { "tok/s": Math.round(tokens / ((performance.now() - t0) / 1000)) });
        }
      },
    });
  } finally {
    bar.stop();
    closeSync(fd);
  }
  console.error(
    `generated ${written} lines, ${tokens} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s${tooLong.length ? ` (${tooLong.length} too_long skipped)` : ""} → ${opts.out}`,
  );
}
