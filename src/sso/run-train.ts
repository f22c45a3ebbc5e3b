// Training on a records file: the library function behind `sso train` and each iteration of `sso iterate`. Reads
// and validates the records, refuses to overwrite a checkpoint unless resuming, loads the policy (or the
// checkpoint's model when resuming; with train.lora the frozen base — 16-bit when the folder is — and the
// checkpoint's adapter) once the memory estimate fits (memory-check.ts), trains (train.ts, or PyTorch ranks:
// torch-train.ts) and prints one closing line. Not here: flags, the loop.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getBackend } from "../backends/index.js";
import { keeps16, loadModel, readConfig } from "../model/folder.js";
import { openTokenizer } from "../model/open.js";
import { readCheckpointState } from "../train/checkpoint.js";
import { readJsonl } from "../util/jsonl.js";
import { checkTrainMemory, type MemoryOptions } from "./memory-check.js";
import { pairsNeeded } from "./objective.js";
import { SsoRecord } from "./record.js";
import { checkTorch, trainTorch } from "./torch-train.js";
import { recordSequences, type StepMetrics, trainSso } from "./train.js";
import { objectiveConfig, type TrainConfig } from "./train-config.js";

export interface TrainRun {
  /** The policy folder (with tokenizer); saved models carry its tokenizer files. */
  model: string;
  /** Records written by synthesis (JSONL). */
  data: string;
  /** OUT/model, OUT/metrics.jsonl, OUT/checkpoint. */
  out: string;
  config: TrainConfig;
  backend: string;
  /** Continue from OUT/checkpoint when it exists; without it an existing checkpoint is an error. */
  resume: boolean;
  /** The memory check before loading the model (our trainer; default: on, against the machine's memory). */
  memory?: MemoryOptions;
}

/** Trains run.model on run.data into run.out; returns the metrics of the steps run now. */
export function runTrain(run: TrainRun): StepMetrics[] {
  const torch = run.config.trainer === "torch",
    lora = run.config.lora !== undefined;
  if (torch) checkTorch(run.config.torch);
  const lines = readJsonl(run.data, SsoRecord),
    records = lines.map((l) => l.value);
  if (records.length === 0) throw new Error(`${run.data}: no records to train on`);
  const ckpt = join(run.out, "checkpoint");
  // readCheckpointState first puts back a checkpoint that a kill during the swap left aside.
  const resuming = run.resume && readCheckpointState(ckpt) !== undefined;
  if (!run.resume && existsSync(ckpt))
    throw new Error(`${ckpt} exists: pass --resume to continue it, or choose another --out`);
  const tok = openTokenizer(run.model),
    config = readConfig(run.model),
    // A LoRA base is frozen: a BF16/F16 folder's matrices stay 16-bit (no fp32 copy); only the adapter is fp32.
    // (The memory check also counts them so in the LoRA run it suggests instead of full fine-tuning.)
    half = keeps16(run.model);
  if (!torch) {
    const pairs = pairsNeeded(objectiveConfig(run.config.objective));
    // Each record's sequences, checked here so that a bad record is named by its line, not by its place in a batch.
    const sizes = lines.map(({ line, value: r }) => {
      const where = `${run.data}:${line} (record id ${JSON.stringify(r.id)})`;
      let seqs: ReturnType<typeof recordSequences>;
      try {
        seqs = recordSequences(tok, r, pairs);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message.replace(/^record id [^:]*: /, "")}`);
      }
      const long = seqs.find((s) => s.ids.length > config.maxPositionEmbeddings);
      if (long)
        throw new Error(
          `${where}: ${long.ids.length} tokens exceed max_position_embeddings ${config.maxPositionEmbeddings}`,
        );
      return seqs.reduce((a, s) => ({ tokens: a.tokens + s.ids.length, rows: a.rows + s.ids.length - s.scoreFrom }), {
        tokens: 0,
        rows: 0,
      });
    });
    checkTrainMemory("train", config, run.config, sizes, run.memory, half);
  }
  const t0 = performance.now(),
    opts = { out: run.out, sourceDir: run.model, resume: resuming };
  const steps = torch
    ? trainTorch(run.model, tok, records, run.config, opts)
    : trainSso(
        // With LoRA the checkpoint holds only the adapter; the frozen base is run.model (16-bit when stored so).
        lora
          ? loadModel(run.model, getBackend(run.backend), {
              keep16: half,
              ...(resuming && { adapter: join(ckpt, "adapter") }),
            })
          : loadModel(resuming ? join(ckpt, "model") : run.model, getBackend(run.backend)),
        tok,
        records,
        run.config,
        opts,
      );
  const last = steps[steps.length - 1];
  console.error(
    `trained ${steps.length} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s${last ? ` (final loss ${last.loss.toFixed(4)}, W ${last["sso/W"].toFixed(3)})` : ""} → ${join(run.out, lora ? "adapter" : "model")}`,
  );
  return steps;
}
