// Synthesis into a file (METHOD.md §2): the library function behind `sso synth` and each iteration of `sso iterate`.
// Takes a resolved config; validates everything (features, prompts, chat template, the memory estimate) before the
// model loads or OUT is touched; runs the chunks in-process or on a remote OpenAI-compatible engine; appends records chunk by chunk
// (resumable, see output.ts); shows one progress bar per stage on a terminal; writes and prints the summary.
// Not here: flag parsing (src/cli/synth.ts) and the stages themselves (synth.ts, stages.ts).

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { MultiBar, type SingleBar } from "cli-progress";
import { getBackend } from "../backends/index.js";
import type { Engine } from "../engine/engine.js";
import { keeps16, loadModel, readConfig } from "../model/folder.js";
import { policyHash } from "../model/hash.js";
import { openTokenizer } from "../model/open.js";
import { adapterHash } from "../model/peft.js";
import { connectEngine } from "../remote/connect.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { checkOutputFile } from "../util/output-path.js";
import type { SynthConfig } from "./config.js";
import { libraryHash, loadFeatureLibrary } from "./features.js";
import { readPrompts } from "./input.js";
import { checkSynthMemory, type MemoryOptions, promptBounds } from "./memory-check.js";
import { SynthOutput } from "./output.js";
import { PAIR_NAMES, RESPONSES } from "./pairs.js";
import type { Stage } from "./stages.js";
import { checkConfig, type SynthOptions, synthesizeChunks, synthesizeChunksOn } from "./synth.js";
import { emptyCounts, type SynthSummary, summarize, TIMED } from "./synth-summary.js";

/** A remote engine (vLLM, SGLang, `sso serve`) for sampling and scoring. */
export interface RemoteOptions {
  /** "openai" detects the server from GET /v1/models; "sglang" uses SGLang's native /generate without asking. */
  engine: "openai" | "sglang";
  baseUrl: string;
  /** The model name the server serves. */
  apiModel: string;
  apiKey?: string;
  concurrency: number;
  timeoutSeconds: number;
  /** What names the server in the records' fingerprint instead of its URL (a managed server's port changes). */
  fingerprint?: Record<string, unknown>;
  /** SGLang: the loaded LoRA adapter every /generate names (lora_path). */
  loraPath?: string;
}

export interface SynthRun {
  /** Policy folder: weights (in-process), tokenizer, chat template, context length, policy hash. */
  model: string;
  /** JSONL prompts file (src/sso/input.ts). */
  prompts: string;
  out: string;
  config: SynthConfig;
  backend: string;
  remote?: RemoteOptions;
  /** A PEFT LoRA adapter folder applied to the in-process policy (not with a remote engine). */
  adapter?: string;
  /** The memory check before loading the model (in-process engine; default: on, against the machine's memory). */
  memory?: MemoryOptions;
}

/** Synthesises run.prompts into run.out (or finishes/resumes an earlier run); returns the summary. In-process
 * synthesis is synchronous; a remote engine's is asynchronous. */
export function runSynth(run: SynthRun & { remote?: undefined }): SynthSummary;
export function runSynth(run: SynthRun): SynthSummary | Promise<SynthSummary>;
export function runSynth(run: SynthRun): SynthSummary | Promise<SynthSummary> {
  const { config } = run;
  checkOutputFile("--out", run.out);
  if (run.remote && run.adapter !== undefined)
    throw new Error("--adapter applies to the in-process engine; load the adapter on the server instead");
  const lib = loadFeatureLibrary(config.features);
  checkConfig(config, lib);
  const prompts = readPrompts(run.prompts);
  const tok = openTokenizer(run.model),
    modelConfig = readConfig(run.model);
  for (const p of prompts) {
    try {
      tok.applyChatTemplate(p.messages, { addGenerationPrompt: true });
    } catch (e) {
      throw new Error(`${run.prompts}: prompt ${p.id}: ${(e as Error).message}`);
    }
  }
  if (!run.remote) {
    const bounds = promptBounds(tok, prompts, lib, config);
    checkSynthMemory("synth", modelConfig, config, bounds, run.memory, keeps16(run.model)); // loaded with keep16 below
  }
  if (run.remote)
    return remoteEngine(run.remote, run.model, tok).then((engine) => start(run, tok, prompts, lib, engine));
  return start(run, tok, prompts, lib, null) as SynthSummary;
}

/** Opens (or resumes) the output and synthesises on the engine: in-process (null, synchronous) or remote. */
function start(
  run: SynthRun,
  tok: Tokenizer,
  prompts: ReturnType<typeof readPrompts>,
  lib: ReturnType<typeof loadFeatureLibrary>,
  remote: Engine | null,
): SynthSummary | Promise<SynthSummary> {
  const { config } = run;
  const model = remote ? null : loadModel(run.model, getBackend(run.backend), { adapter: run.adapter, keep16: true });
  const policy = {
    model: run.model,
    hash:
      run.adapter === undefined
        ? policyHash(run.model)
        : createHash("sha256")
            .update(`${policyHash(run.model)}\0${adapterHash(run.adapter)}`)
            .digest("hex"),
  };
  const fingerprint = {
    config,
    backend: run.backend,
    policy_model: policy.model,
    policy_hash: policy.hash,
    prompts_sha256: createHash("sha256").update(readFileSync(run.prompts)).digest("hex"),
    features_sha256: libraryHash(lib),
    ...(remote ? { engine: remote.settings } : {}),
  };
  const output = SynthOutput.open(run.out, fingerprint, emptyCounts(lib));
  const finish = () => finishSynth(run, output);
  if (output.done || output.next >= prompts.length) return finish();
  if (output.next > 0) console.error(`resuming: ${output.next} of ${prompts.length} prompts already done`);
  const bars = stageBars(config, prompts.length - output.next);
  const opts: SynthOptions = {
    library: lib,
    policy,
    start: output.next,
    counts: output.counts,
    seconds: output.seconds,
    onChunk: (c) => output.appendChunk(c.records, c.next, c.counts, c.seconds),
    onProgress: bars.tick,
  };
  if (remote)
    return synthesizeChunksOn(remote, tok, prompts, config, opts)
      .finally(() => bars.stop())
      .then(finish);
  try {
    synthesizeChunks(model!, tok, prompts, config, opts);
  } finally {
    bars.stop();
  }
  return finish();
}

function remoteEngine(r: RemoteOptions, modelDir: string, tok: Tokenizer): Promise<Engine> {
  if (!/^https?:\/\//.test(r.baseUrl)) throw new Error(`--base-url must be an http(s) URL, got "${r.baseUrl}"`);
  return connectEngine({
    baseUrl: r.baseUrl,
    model: r.apiModel,
    engine: r.engine,
    apiKey: r.apiKey ?? process.env.OPENAI_API_KEY,
    maxPositions: readConfig(modelDir).maxPositionEmbeddings,
    stopIds: tok.stopIds,
    concurrency: r.concurrency,
    timeoutMs: r.timeoutSeconds * 1000,
    loraPath: r.loraPath,
  }).then((e) => (r.fingerprint ? Object.assign(Object.create(e), { settings: r.fingerprint }) : e));
}

/** One bar per stage on a terminal (redrawn from the ticks, since synthesis keeps the event loop busy); silent otherwise. */
function stageBars(
  config: SynthConfig,
  prompts: number,
): { tick: (stage: Stage, n: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { tick() {}, stop() {} };
  const multi = new MultiBar({
    format: "{stage} [{bar}] {value}/{total} {unit}",
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
  });
  const spec: [Stage, number, string][] = [
    ["select", 1, "prompts"],
    ["principles", 1, "prompts"],
    ["sample", RESPONSES.length, "answers"],
    ["score", PAIR_NAMES.length, "pairs"],
  ];
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

function finishSynth(run: SynthRun, output: SynthOutput): SynthSummary {
  const done = output.finish(run.config.filters.logpOrder);
  if (done.filtered) console.error(`log-prob ordering filter applied to the whole set (${run.out} rewritten)`);
  const summary = summarize(done.counts, done.records, done.seconds);
  output.writeSummary(summary);
  printSummary(summary, run.out, output.summaryPath);
  return summary;
}

function printSummary(s: SynthSummary, out: string, summaryPath: string): void {
  const dropped =
    Object.entries(s.dropped)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r} ${n}`)
      .join(", ") || "none";
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(" · ");
  const len = (k: keyof SynthSummary["lengths"]) => `${k} ${s.lengths[k].mean}/${s.lengths[k].median}`;
  console.error(
    `synth: ${s.prompts} prompts → ${s.kept} records (dropped: ${dropped}) in ${s.timing.seconds.total} s, ${s.timing.records_per_minute} records/min`,
  );
  console.error(`  features kept: ${list(s.features_kept)}`);
  console.error(`  response tokens (mean/median): ${RESPONSES.map(len).join(" · ")}`);
  console.error(
    `  time: ${TIMED.map((k) => `${k} ${s.timing.seconds[k]} s (${Math.round(100 * s.timing.share[k])}%)`).join(" · ")}`,
  );
  console.error(`  → ${out}, ${summaryPath}`);
}
