// `sso train --model DIR --data DATA.jsonl --out DIR`: flags over the config file's train section, then the
// library's runTrain (src/sso/run-train.ts). OUT/model is the trained model folder, OUT/metrics.jsonl one line per
// step, OUT/checkpoint the latest checkpoint; `--resume` continues from it exactly.
import { loadConfig } from "../config.js";
import { isModelFolderEntry } from "../model/folder.js";
import { isAdapterFolderEntry } from "../model/peft.js";
import { validate } from "../sso/file.js";
import type { MemoryOptions } from "../sso/memory-check.js";
import { runTrain } from "../sso/run-train.js";
import { TrainConfig } from "../sso/train-config.js";
import { checkRunFolder } from "../util/output-path.js";

/** The parts of a train run folder replaced as a whole at the end of a run (a rerun replaces its own). */
export const TRAIN_OUTPUTS = [
  { name: "model", owned: isModelFolderEntry, what: "model folder" },
  { name: "adapter", owned: isAdapterFolderEntry, what: "PEFT adapter folder" },
];

export interface TrainCliOptions {
  model: string;
  data: string;
  out: string;
  config?: string;
  resume: boolean;
  backend?: string;
  preset?: string;
  lr?: number;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  trainer?: string;
  nproc?: number;
  python?: string;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  memoryLimit?: number;
  /** false with --no-memory-check. */
  memoryCheck?: boolean;
}

/** The memory check's flags as the library takes them. */
export const memoryFlags = (o: { memoryLimit?: number; memoryCheck?: boolean }): MemoryOptions => ({
  check: o.memoryCheck !== false,
  limitGB: o.memoryLimit,
});

/** The train section with the trainer flags (shared with `sso iterate`) over it; validated by the caller. */
export function withTrainerFlags(train: Record<string, unknown> & { torch?: object }, opts: Partial<TrainCliOptions>) {
  const torch = {
    ...(opts.nproc !== undefined && { nproc: opts.nproc }),
    ...(opts.python !== undefined && { python: opts.python }),
    ...(opts.nnodes !== undefined && { nnodes: opts.nnodes }),
    ...(opts.nodeRank !== undefined && { nodeRank: opts.nodeRank }),
    ...(opts.masterAddr !== undefined && { masterAddr: opts.masterAddr }),
    ...(opts.masterPort !== undefined && { masterPort: opts.masterPort }),
  };
  return {
    ...train,
    ...(opts.trainer !== undefined && { trainer: opts.trainer }),
    torch: { ...train.torch, ...torch },
  };
}

export function trainCommand(opts: TrainCliOptions): void {
  const file = loadConfig(opts.config);
  checkRunFolder(
    "--out",
    opts.out,
    [
      { flag: "--model", path: opts.model },
      { flag: "--data", path: opts.data },
    ],
    TRAIN_OUTPUTS,
  );
  const config = validate(
    {
      ...withTrainerFlags(file.train, opts),
      ...(opts.lr !== undefined && { lr: opts.lr }),
      ...(opts.epochs !== undefined && { epochs: opts.epochs }),
      ...(opts.batchSize !== undefined && { batchSize: opts.batchSize }),
      ...(opts.seed !== undefined && { seed: opts.seed }),
      objective: { ...file.train.objective, ...(opts.preset !== undefined && { preset: opts.preset }) },
    },
    TrainConfig,
    "command line",
  );
  runTrain({
    model: opts.model,
    data: opts.data,
    out: opts.out,
    config,
    backend: opts.backend ?? file.backend,
    resume: opts.resume,
    memory: memoryFlags(opts),
  });
}
