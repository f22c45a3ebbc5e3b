// `sso synth --model DIR --prompts PROMPTS.jsonl --out DATA.jsonl [--config FILE]`: SSO data synthesis (SSO-SPEC §2)
// with one progress bar per stage, records appended chunk by chunk, and a summary printed and written to
// OUT.summary.json. Resumable: a rerun continues where a crashed one stopped (see src/sso/output.ts). Everything
// is validated (config, features, prompts, chat template) before the model loads or OUT is touched. With
// `--engine openai` sampling and scoring run on an OpenAI-compatible server (src/remote/openai.ts); the model
// folder still gives the tokenizer, the chat template, the context length and the policy hash.
import { MultiBar, type SingleBar } from "cli-progress";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { getBackend } from "../backends/index.js";
import { loadConfig } from "../config.js";
import { loadModel, readConfig } from "../model/checkpoint.js";
import { OpenAiEngine } from "../remote/openai.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { resolveSynthConfig, type SynthConfig, type SynthOverrides } from "../sso/config.js";
import { libraryHash, loadFeatureLibrary } from "../sso/features.js";
import { readPrompts } from "../sso/input.js";
import { SynthOutput } from "../sso/output.js";
import { policyHash } from "../sso/record.js";
import type { Stage } from "../sso/stages.js";
import { checkConfig, emptyCounts, summarize, synthesizeChunks, synthesizeChunksOn, TIMED, type SynthOptions, type SynthSummary } from "../sso/synth.js";

export interface SynthCliOptions extends SynthOverrides {
  model: string;
  prompts: string;
  out: string;
  config?: string;
  backend: string;
  /** local (default) or openai. */
  engine?: string;
  baseUrl?: string;
  apiModel?: string;
  apiKey?: string;
  concurrency?: number;
  /** Seconds per request. */
  timeout?: number;
}

/** The remote engine of --engine openai, or null for the in-process one; flags are checked before anything runs. */
function remoteEngine(opts: SynthCliOptions, tok: Tokenizer): OpenAiEngine | null {
  const engine = opts.engine ?? "local";
  if (engine === "local") {
    const stray = (["baseUrl", "apiModel", "apiKey"] as const).find((k) => opts[k] !== undefined);
    if (stray) throw new Error(`--${stray.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} needs --engine openai`);
    return null;
  }
  if (engine !== "openai") throw new Error(`--engine must be local or openai, got "${engine}"`);
  if (!opts.baseUrl || !opts.apiModel) throw new Error("--engine openai needs --base-url and --api-model");
  if (!/^https?:\/\//.test(opts.baseUrl)) throw new Error(`--base-url must be an http(s) URL, got "${opts.baseUrl}"`);
  return new OpenAiEngine({
    baseUrl: opts.baseUrl, model: opts.apiModel, apiKey: opts.apiKey ?? process.env.OPENAI_API_KEY, maxPositions: readConfig(opts.model).maxPositionEmbeddings,
    eosIds: tok.stopIds, concurrency: opts.concurrency ?? 16, timeoutMs: (opts.timeout ?? 600) * 1000,
  });
}

/** One bar per stage on a terminal (redrawn from the ticks, since synthesis keeps the event loop busy); silent otherwise. */
function stageBars(config: SynthConfig, prompts: number): { tick: (stage: Stage, n: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { tick() {}, stop() {} };
  const multi = new MultiBar({ format: "{stage} [{bar}] {value}/{total} {unit}", stream: process.stderr, hideCursor: true, clearOnComplete: false });
  const spec: [Stage, number, string][] = [["select", 1, "prompts"], ["principles", 1, "prompts"], ["sample", 3, "answers"], ["score", 7, "pairs"]];
  const bars = new Map<Stage, SingleBar>();
  for (const [stage, per, unit] of spec) {
    if (stage === "principles" && !config.queryPrinciples) continue;
    bars.set(stage, multi.create(per * prompts, 0, { stage: stage.padEnd(10), unit }));
  }
  let last = 0;
  return {
    tick(stage, n) {
      bars.get(stage)?.increment(n);
      if (Date.now() - last > 100) {
        last = Date.now();
        multi.update();
      }
    },
    stop: () => multi.stop(),
  };
}

function printSummary(s: SynthSummary, out: string, summaryPath: string): void {
  const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(", ") || "none";
  const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(" · ");
  const len = (k: keyof SynthSummary["lengths"]) => `${k} ${s.lengths[k].mean}/${s.lengths[k].median}`;
  console.error(`synth: ${s.prompts} prompts → ${s.kept} records (dropped: ${dropped}) in ${s.timing.seconds.total} s, ${s.timing.records_per_minute} records/min`);
  console.error(`  features kept: ${list(s.features_kept)}`);
  console.error(`  response tokens (mean/median): ${len("chosen")} · ${len("rejected")} · ${len("raw")}`);
  console.error(`  time: ${TIMED.map((k) => `${k} ${s.timing.seconds[k]} s (${Math.round(100 * s.timing.share[k])}%)`).join(" · ")}`);
  console.error(`  → ${out}, ${summaryPath}`);
}

export function runSynth(opts: SynthCliOptions): void | Promise<void> {
  const config = resolveSynthConfig(loadConfig(opts.config).synth, opts.config, opts);
  const lib = loadFeatureLibrary(config.features);
  checkConfig(config, lib);
  const prompts = readPrompts(opts.prompts);
  const tok = Tokenizer.fromDir(opts.model);
  for (const p of prompts) {
    try {
      tok.applyChatTemplate(p.messages, { addGenerationPrompt: true });
    } catch (e) {
      throw new Error(`${opts.prompts}: prompt ${p.id}: ${(e as Error).message}`);
    }
  }
  const remote = remoteEngine(opts, tok);
  const model = remote ? null : loadModel(opts.model, getBackend(opts.backend));
  const policy = { model: opts.model, hash: policyHash(opts.model) };
  const fingerprint = {
    config, backend: opts.backend, policy_model: policy.model, policy_hash: policy.hash,
    prompts_sha256: createHash("sha256").update(readFileSync(opts.prompts)).digest("hex"), features_sha256: libraryHash(lib),
    ...(remote ? { engine: remote.settings } : {}),
  };
  const output = SynthOutput.open(opts.out, fingerprint, emptyCounts(lib));
  const finish = () => finishSynth(opts, config, output);
  if (output.done || output.next >= prompts.length) return finish();
  if (output.next > 0) console.error(`resuming: ${output.next} of ${prompts.length} prompts already done`);
  const bars = stageBars(config, prompts.length - output.next);
  const run: SynthOptions = {
    library: lib, policy, start: output.next, counts: output.counts, seconds: output.seconds,
    onChunk: (c) => output.appendChunk(c.records, c.next, c.counts, c.seconds),
    onProgress: bars.tick,
  };
  if (remote) return synthesizeChunksOn(remote, tok, prompts, config, run).finally(() => bars.stop()).then(finish);
  try {
    synthesizeChunks(model!, tok, prompts, config, run);
  } finally {
    bars.stop();
  }
  finish();
}

function finishSynth(opts: SynthCliOptions, config: SynthConfig, output: SynthOutput): void {
  const done = output.finish(config.filters.logpOrder);
  if (done.filtered) console.error(`log-prob ordering filter applied to the whole set (${opts.out} rewritten)`);
  const summary = summarize(done.counts, done.records, done.seconds);
  output.writeSummary(summary);
  printSummary(summary, opts.out, output.summaryPath);
}
