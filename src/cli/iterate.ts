// `sso iterate --model DIR --prompts FILE --iterations N --out RUN_DIR`: the whole SSO loop. Iteration k
// synthesises records with the current policy (which is also the reference: the iteration's starting snapshot),
// optionally rescores the reference with the initial model, trains, and saves RUN_DIR/iter-k/model:
//   RUN_DIR/run.json                      the run's inputs (a rerun with other inputs is refused)
//   RUN_DIR/iter-k/data.jsonl             records (+ .progress.json, .summary.json from sso synth)
//   RUN_DIR/iter-k/data.initial-ref.jsonl the same records scored by the initial model (reference: initial)
//   RUN_DIR/iter-k/train/                 checkpoint, metrics.jsonl, model (sso train)
//   RUN_DIR/iter-k/summary.json           what the iteration did; RUN_DIR/summary.json all of them
// Each stage is itself resumable, so a killed run, rerun with the same arguments, continues in the stage it
// stopped in and ends with the weights an uninterrupted run would have. Evaluation hooks arrive with `sso eval`.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { getBackend } from "../backends/index.js";
import { loadConfig } from "../config.js";
import { loadModel, readJson as readJsonFile } from "../model/checkpoint.js";
import { SsoRecord } from "../sso/record.js";
import { rescoreReference } from "../sso/train.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl, toJsonl } from "../util/jsonl.js";
import { runSynth } from "./synth.js";
import { runTrain } from "./train.js";

export interface IterateOptions {
  model: string;
  prompts: string;
  out: string;
  iterations?: number;
  config?: string;
  backend?: string;
}

const readJson = (path: string): Record<string, unknown> => readJsonFile(path) as Record<string, unknown>;

export function runIterate(opts: IterateOptions): void {
  const config = loadConfig(opts.config);
  const iterations = opts.iterations ?? config.iterate.iterations, backend = opts.backend ?? config.backend;
  const run = { model: resolve(opts.model), prompts: resolve(opts.prompts), config: config, iterations, backend };
  mkdirSync(opts.out, { recursive: true });
  const runPath = join(opts.out, "run.json");
  if (existsSync(runPath)) {
    const was = JSON.stringify({ ...readJson(runPath), iterations: 0 }), now = JSON.stringify({ ...run, iterations: 0 });
    if (was !== now) throw new Error(`${runPath}: this run directory was started with other inputs; use another --out`);
    console.error(`resuming the run in ${opts.out}`);
  }
  writeFileAtomic(runPath, JSON.stringify(run, null, 2) + "\n");

  const summaries: Record<string, unknown>[] = [];
  let policy = opts.model;
  for (let k = 1; k <= iterations; k++) {
    const dir = join(opts.out, `iter-${k}`), data = join(dir, "data.jsonl"), trainOut = join(dir, "train");
    mkdirSync(dir, { recursive: true });
    const t0 = performance.now();
    console.error(`— iteration ${k}/${iterations}: synthesise with ${policy}`);
    runSynth({ model: policy, prompts: opts.prompts, out: data, config: opts.config, backend, iteration: k - 1 });
    let trainData = data;
    if (config.iterate.reference === "initial" && k > 1) {
      trainData = join(dir, "data.initial-ref.jsonl");
      if (!existsSync(trainData)) {
        const records = readJsonl(data, SsoRecord).map((l) => l.value);
        const initial = loadModel(opts.model, getBackend(backend));
        writeFileAtomic(trainData, toJsonl(rescoreReference(initial, Tokenizer.fromDir(opts.model), records)));
      }
    }
    const model = join(trainOut, "model"), state = join(trainOut, "checkpoint", "trainer_state.json");
    const finished = existsSync(model) && existsSync(state) && ((s) => s.step === s.totalSteps)(readJson(state) as { step: number; totalSteps: number });
    if (!finished) {
      console.error(`— iteration ${k}/${iterations}: train`);
      runTrain({ model: policy, data: trainData, out: trainOut, config: opts.config, resume: true, backend });
    }
    const metrics = readFileSync(join(trainOut, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    const summary = {
      iteration: k, policy, model, data: trainData,
      synth: readJson(`${data}.summary.json`),
      train: { steps: metrics.length, first: metrics[0], last: metrics[metrics.length - 1] },
      seconds_this_session: Math.round((performance.now() - t0) / 100) / 10,
    };
    writeFileAtomic(join(dir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
    summaries.push(summary);
    policy = model;
  }
  writeFileAtomic(join(opts.out, "summary.json"), JSON.stringify({ iterations: summaries, final_model: policy }, null, 2) + "\n");
  console.error(`done: ${iterations} iterations → ${policy}`);
}
