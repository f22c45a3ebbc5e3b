// The SSO loop (METHOD.md §4), the library function behind `sso iterate` and the demo. Iteration k synthesises
// records with the current policy (which is also the reference: the iteration's starting snapshot), optionally
// rescores the reference with the initial model, trains, and saves OUT/iter-k/model. In v2 mode (METHOD.md §3) a
// generator comes first: started from the policy, trained with the generator objective on records the policy
// writes; then the generator writes the records and the policy trains on them with a plain IPO/DPO objective:
//   OUT/run.json                      the run's inputs (a rerun with other inputs is refused)
//   OUT/iter-k/data.jsonl             records (+ .progress.json, .summary.json from synthesis)
//   OUT/iter-k/data.initial-ref.jsonl the same records scored by the initial model (reference: initial)
//   OUT/iter-k/train/                 checkpoint, metrics.jsonl, model (with train.lora also adapter: see below)
//   OUT/iter-k/generator/             v2 only: the generator's own records (data.jsonl) and its train/ (model)
//   OUT/iter-k/data.policy-ref.jsonl  v2 only: the generator's records with the policy's reference log-probs
//   OUT/iter-k/eval.json              the configured evaluation (iterate.eval), also in the iteration's summary
//   OUT/iter-k/summary.json           what the iteration did; OUT/summary.json all of them
// Each stage is itself resumable, so a killed run, rerun with the same arguments, continues in the stage it stopped
// in and ends with the weights an uninterrupted run would have.
// With train.lora, iteration k trains a fresh adapter on its policy π_k (frozen) and then merges it:
// OUT/iter-k/train/adapter is the PEFT folder (for π_k), OUT/iter-k/train/model = π_k + adapter is π_{k+1}. So every
// iteration's reference is the policy it started from, exactly as with full fine-tuning, and adapters never stack.
// The merge loads π_k fp32 (a BF16 base is widened, exactly) and saves π_{k+1} in train.saveDtype: BF16 keeps every
// policy 16-bit, so each iteration's LoRA base is held 16-bit in training too (run-train.ts).
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { keeps16, readConfig } from "../model/folder.js";
import { mergeAdapter } from "../model/merge.js";
import { openModel } from "../model/open.js";
import { stopServersOnSignals } from "../remote/managed.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { readCheckpointState } from "../train/checkpoint.js";
import { type MetricsLine, readMetrics } from "../train/metrics.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/files.js";
import { readJsonl, toJsonl } from "../util/jsonl.js";
import { loadFeatureLibrary } from "./features.js";
import { readPrompts } from "./input.js";
import { checkServer, loraChain, PolicyServer, synthDone } from "./iterate-server.js";
import type { LoopConfig } from "./loop-config.js";
import {
  boundedRecordSize,
  checkSynthMemory,
  checkTrainMemory,
  type MemoryOptions,
  promptBounds,
} from "./memory-check.js";
import { SsoRecord } from "./record.js";
import { runSynth } from "./run-synth.js";
import { runTrain } from "./run-train.js";
import type { SynthSummary } from "./synth-summary.js";
import { rescoreReference } from "./train.js";
import { objectiveConfig, type TrainConfig } from "./train-config.js";

export interface IterateRun {
  /** The initial policy folder (with tokenizer). */
  model: string;
  prompts: string;
  out: string;
  /** Resolved config (src/config.ts resolveConfig): synth, train, iterate sections and the backend. */
  config: LoopConfig;
  /** Evaluates iteration k's model after it is trained (iterate.eval: src/eval/iteration.ts iterationEvaluator);
   *  its result goes into the iteration's summary. */
  evaluate?: IterationEvaluator;
  /** The memory checks of synthesis and training (default: on, against the machine's memory). */
  memory?: MemoryOptions;
}

export interface IterationSummary {
  iteration: number;
  policy: string;
  model: string;
  /** With train.lora: the adapter trained on `policy`, merged into `model`. */
  adapter?: string;
  data: string;
  synth: SynthSummary;
  train: { steps: number; first: MetricsLine; last: MetricsLine };
  seconds_this_session: number;
  /** Wall seconds this session spent synthesising (model load included), rescoring, training and merging. */
  stage_seconds?: StageSeconds;
  /** The configured evaluation of this iteration's model (iterate.eval, through IterateRun.evaluate). */
  eval?: object;
  /** v2: the generator of this iteration (OUT/iter-k/generator): its model, its own records and its training. */
  generator?: { model: string; data: string; synth: SynthSummary; train: IterationSummary["train"] };
}

/** Evaluates iteration k's model (paths.model) against the initial one, caching in paths.outFile / initialFile. */
export type IterationEvaluator = (
  k: number,
  paths: { model: string; initial: string; outFile: string; initialFile: string },
) => object;

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

export interface IterateResult {
  iterations: IterationSummary[];
  final_model: string;
}

/** A step of the loop that may be asynchronous: synthesis on a server, the server's start, swap or stop. */
type Co<T> = Generator<unknown, T, unknown>;
function* wait<T>(v: T | Promise<T>): Co<T> {
  return (yield v) as T;
}

/**
 * Runs (or resumes) the loop; returns each iteration's summary and the final model folder. In-process it is
 * synchronous; with iterate.server (a server it starts and swaps itself, iterate-server.ts) asynchronous, and the
 * server is stopped however the loop ends.
 */
export function runIterate(given: IterateRun & { config: { iterate: { server?: undefined } } }): IterateResult;
export function runIterate(given: IterateRun): IterateResult | Promise<IterateResult>;
export function runIterate(given: IterateRun): IterateResult | Promise<IterateResult> {
  // Absolute paths throughout: records and fingerprints name the policy, so a rerun from elsewhere still resumes.
  const run: Run = { ...given, model: resolve(given.model), prompts: resolve(given.prompts), out: resolve(given.out) };
  const sc = run.config.iterate.server;
  if (!sc) {
    const g = loop(run);
    for (let r = g.next(); ; r = g.next(r.value)) {
      if (r.done) return r.value;
      if (r.value instanceof Promise) throw new Error("internal: an asynchronous step in an in-process run");
    }
  }
  checkServer(run.config);
  run.server = new PolicyServer({
    out: run.out,
    model: run.model,
    prompts: run.prompts,
    backend: run.config.backend,
    server: sc,
    loraRank: run.config.train.lora
      ? run.config.train.lora.r * Math.max(1, run.config.iterate.iterations - 1)
      : undefined,
  });
  const server = run.server;
  return (async () => {
    const g = loop(run);
    try {
      let r = g.next();
      while (!r.done) {
        let v: unknown;
        stopServersOnSignals(true); // only while waiting: synchronous steps (training) block any handler
        try {
          v = await r.value;
        } catch (e) {
          r = g.throw(e);
          continue;
        } finally {
          stopServersOnSignals(false);
        }
        r = g.next(v);
      }
      return r.value;
    } finally {
      await server.stop();
    }
  })();
}

interface Run extends IterateRun {
  server?: PolicyServer;
}

function* loop(run: Run): Co<IterateResult> {
  const { config } = run,
    iterations = config.iterate.iterations;
  const prompts = readPrompts(run.prompts); // a bad or empty prompts file fails here, before anything is written
  checkMode(config, run.evaluate);
  checkMemory(run, prompts);
  const inputs = { model: run.model, prompts: run.prompts, config };
  mkdirSync(run.out, { recursive: true });
  const runPath = join(run.out, "run.json");
  if (existsSync(runPath)) {
    const was = readJson(runPath) as Record<string, unknown> & { config: LoopConfig };
    // Only the iteration count, the evaluation and the server's settings may change: none changes the weights.
    const strip = (c: LoopConfig & { iterate: { eval?: unknown } }) => ({
      ...c,
      iterate: {
        ...c.iterate,
        iterations: 0,
        eval: undefined,
        server: c.iterate.server && { swap: c.iterate.server.swap },
      },
    });
    if (
      JSON.stringify({ ...was, config: strip(was.config) }) !== JSON.stringify({ ...inputs, config: strip(config) })
    ) {
      throw new Error(`${runPath}: this run directory was started with other inputs; use another --out`);
    }
    console.error(`resuming the run in ${run.out}`);
  }
  writeFileAtomic(runPath, json(inputs));

  const summaries: IterationSummary[] = [];
  let policy = run.model;
  for (let k = 1; k <= iterations; k++) {
    const summary = yield* iteration(run, k, policy);
    if (run.evaluate) {
      summary.eval = run.evaluate(k, {
        model: summary.model,
        initial: run.model,
        outFile: join(run.out, `iter-${k}`, "eval.json"),
        initialFile: join(run.out, "eval-initial.json"),
      });
    }
    writeFileAtomic(join(run.out, `iter-${k}`, "summary.json"), json(summary));
    summaries.push(summary);
    policy = summary.model;
  }
  const result = { iterations: summaries, final_model: policy };
  writeFileAtomic(join(run.out, "summary.json"), json(result));
  console.error(`done: ${iterations} iterations → ${policy}`);
  return result;
}

/**
 * Both stages' memory estimates before any work, the records bounded by the synthesis config (the longest prompt
 * with its principles, full-length responses); each stage checks again with what it then knows.
 */
function checkMemory(run: IterateRun, prompts: ReturnType<typeof readPrompts>): void {
  if (run.memory?.check === false) return;
  const { synth, train } = run.config,
    c = readConfig(run.model);
  const bounds = promptBounds(Tokenizer.fromDir(run.model), prompts, loadFeatureLibrary(synth.features), synth);
  // Synthesis and a LoRA base keep a 16-bit folder 16-bit; every iteration's policy is one when the first is and
  // the later ones are saved BF16 (train.saveDtype).
  const frozen16 = keeps16(run.model) && (run.config.iterate.iterations === 1 || train.saveDtype === "BF16");
  checkSynthMemory("iterate (synthesis)", c, synth, bounds, run.memory, frozen16);
  if (train.trainer === "ts") {
    const size = boundedRecordSize(c, train, synth, bounds);
    checkTrainMemory("iterate (training)", c, train, Array(train.microBatch).fill(size), run.memory, frozen16);
  }
}

/** What one synthesise → (rescore) → train stage did. */
interface StageResult {
  synth: SynthSummary;
  /** The records trained on (rescored when the stage has its own reference). */
  data: string;
  model: string;
  /** With train.lora: the stage's PEFT adapter (merged into `model`). */
  adapter?: string;
  train: IterationSummary["train"];
  seconds: StageSeconds;
}

export type StageSeconds = Record<"synth" | "rescore" | "train" | "merge", number>;

/** One synthesise → (rescore) → train stage in `dir`: DIR/data.jsonl, DIR/train/{model,metrics.jsonl,checkpoint}. */
interface Stage {
  dir: string;
  /** The model that writes the records; their reference log-probs are its own. */
  writer: string;
  /** Rescore the reference columns with this model instead, into DIR/data.<label>-ref.jsonl. */
  reference?: { model: string; label: string };
  /** The model training starts from. */
  from: string;
  train: TrainConfig;
  /** "iteration k/n" or "iteration k/n, generator": for the log lines. */
  label: string;
  /** Hot-swapped LoRA: the adapter that makes the initial model the writer. */
  adapter?: string;
}

/** Runs or resumes a stage: every step skips what a previous session finished. */
function* runStage(run: Run, k: number, st: Stage): Co<StageResult> {
  const backend = run.config.backend,
    data = join(st.dir, "data.jsonl"),
    trainOut = join(st.dir, "train");
  mkdirSync(st.dir, { recursive: true });
  const synthRun = {
    model: st.writer,
    prompts: run.prompts,
    out: data,
    config: { ...run.config.synth, iteration: k - 1 },
    backend,
    memory: run.memory,
  };
  const seconds: StageSeconds = { synth: 0, rescore: 0, train: 0, merge: 0 };
  let clock = performance.now();
  const lap = (stage: keyof StageSeconds) => {
    const now = performance.now();
    seconds[stage] += Math.round(now - clock) / 1000;
    clock = now;
  };
  let synth: SynthSummary;
  if (!run.server) {
    console.error(`— ${st.label}: synthesise with ${st.writer}`);
    synth = runSynth(synthRun);
  } else if (synthDone(data)) {
    synth = readJson(`${data}.summary.json`) as SynthSummary;
  } else {
    const remote = yield* wait(
      run.server.serve({ k, label: st.label, dir: st.dir, writer: st.writer, adapter: st.adapter }),
    );
    console.error(`— ${st.label}: synthesise with ${st.writer} on ${remote.baseUrl} ("${remote.apiModel}")`);
    synth = yield* wait(runSynth({ ...synthRun, remote }));
  }
  lap("synth");
  if (synth.kept === 0)
    throw new Error(`${st.label}: synthesis kept no records of ${synth.prompts} prompts (see ${data}.summary.json)`);
  let trainData = data;
  if (st.reference) {
    trainData = join(st.dir, `data.${st.reference.label}-ref.jsonl`);
    if (!existsSync(trainData)) {
      const records = readJsonl(data, SsoRecord).map((l) => l.value);
      const ref = openModel(st.reference.model, { backend, keep16: true });
      writeFileAtomic(trainData, toJsonl(rescoreReference(ref.model, ref.tok, records)));
    }
  }
  lap("rescore");
  const model = join(trainOut, "model"),
    adapter = st.train.lora ? join(trainOut, "adapter") : undefined,
    state = readCheckpointState(join(trainOut, "checkpoint"));
  if (!(existsSync(adapter ?? model) && state && state.step === state.totalSteps)) {
    if (run.server) yield* wait(run.server.beforeTrain());
    console.error(`— ${st.label}: train`);
    runTrain({
      model: st.from,
      data: trainData,
      out: trainOut,
      config: st.train,
      backend,
      resume: true,
      memory: run.memory,
    });
  }
  lap("train");
  if (adapter && !existsSync(model))
    mergeAdapter({ model: st.from, adapter, out: model, dtype: st.train.saveDtype, backend });
  lap("merge");
  const metrics = readMetrics(join(trainOut, "metrics.jsonl"));
  return {
    synth,
    data: trainData,
    model,
    ...(adapter && { adapter }),
    train: { steps: metrics.length, first: metrics[0], last: metrics[metrics.length - 1] },
    seconds,
  };
}

/**
 * Iteration k from `policy`. v1: the policy writes the records (the initial model rescores their reference if so
 * configured) and trains on them. v2: a generator started from the policy trains with the generator objective on
 * records the policy writes (OUT/iter-k/generator/), then writes the records the policy trains on, rescored with the
 * policy (or the initial model) as the reference (OUT/iter-k/).
 */
function* iteration(run: Run, k: number, policy: string): Co<IterationSummary> {
  const { config } = run,
    dir = join(run.out, `iter-${k}`),
    label = `iteration ${k}/${config.iterate.iterations}`;
  const t0 = performance.now();
  const initialRef = config.iterate.reference === "initial";
  let generator: StageResult | undefined;
  if (config.iterate.mode === "v2") {
    generator = yield* runStage(run, k, {
      dir: join(dir, "generator"),
      writer: policy,
      from: policy,
      train: { ...config.train, objective: config.iterate.generator ?? { preset: "sso-v2-generator" } },
      label: `${label}, generator`,
    });
  }
  const policyStage = yield* runStage(run, k, {
    dir,
    writer: generator?.model ?? policy,
    adapter: generator ? undefined : loraChain(run.out, run.model, run.config, k),
    reference: generator
      ? initialRef
        ? { model: run.model, label: "initial" }
        : { model: policy, label: "policy" }
      : initialRef && k > 1
        ? { model: run.model, label: "initial" }
        : undefined,
    from: policy,
    train: config.train,
    label,
  });
  return {
    iteration: k,
    policy,
    model: policyStage.model,
    ...(policyStage.adapter && { adapter: policyStage.adapter }),
    data: policyStage.data,
    synth: policyStage.synth,
    train: policyStage.train,
    ...(generator && {
      generator: { model: generator.model, data: generator.data, synth: generator.synth, train: generator.train },
    }),
    seconds_this_session: Math.round((performance.now() - t0) / 100) / 10,
    stage_seconds: policyStage.seconds,
  };
}

/** v2 trains the policy with a plain preference loss on the generator's pairs; anything else is refused up front. */
export function checkMode(config: LoopConfig & { iterate: { eval?: unknown } }, evaluate?: IterationEvaluator): void {
  if (config.iterate.eval !== undefined && !evaluate)
    throw new Error("iterate.eval: the loop was given no evaluator (src/eval/iteration.ts iterationEvaluator)");
  if (config.iterate.mode !== "v2") {
    if (config.iterate.generator) throw new Error("iterate.generator: only used with iterate.mode v2");
    return;
  }
  const policy = objectiveConfig(config.train.objective);
  if (policy.generator || policy.useWeight || policy.steering !== "none" || policy.theta !== 0)
    throw new Error(
      `train.objective: iterate.mode v2 trains the policy with plain IPO or DPO (preset ipo or dpo), not "${config.train.objective.preset}"`,
    );
  if (!objectiveConfig(config.iterate.generator ?? { preset: "sso-v2-generator" }).generator)
    throw new Error(`iterate.generator: the v2 generator trains with a generator objective (preset sso-v2-generator)`);
}
