// `sso train --model DIR --data DATA.jsonl --out DIR`: flags over the config file's train section, then the
// library's runTrain (src/sso/run-train.ts). OUT/model is the trained model folder, OUT/metrics.jsonl one line per
// step, OUT/checkpoint the latest checkpoint; `--resume` continues from it exactly.
import { loadConfig } from "../config.js";
import { isModelFolderEntry } from "../model/folder.js";
import { isAdapterFolderEntry } from "../model/peft.js";
import { validate } from "../sso/file.js";
import type { MemoryOptions } from "../sso/memory-check.js";
import { runTrain } from "../sso/run-train.js";
import { type TorchSettings, TrainConfig } from "../sso/train-config.js";
import { checkRunFolder } from "../util/output-path.js";

/** The parts of a train run folder replaced as a whole at the end of a run (a rerun replaces its own). */
export const TRAIN_OUTPUTS = [
  { name: "model", owned: isModelFolderEntry, what: "model folder" },
  { name: "adapter", owned: isAdapterFolderEntry, what: "PEFT adapter folder" },
];

/**
 * `sso train`'s flags. A flag that sets a config key has the key's name (commander camel-cases `--batch-size` to
 * `batchSize`, the key of train.batchSize), so flags map onto the config by one rule (`overKeys`) instead of one by
 * one; the types of those flags are the config's own.
 */
export type TrainCliOptions = {
  model: string;
  data: string;
  out: string;
  config?: string;
  resume: boolean;
  backend?: string;
  /** train.objective.preset. */
  preset?: string;
  memoryLimit?: number;
  /** false with --no-memory-check. */
  memoryCheck?: boolean;
} & Partial<Pick<TrainConfig, TrainFlagKey>> &
  Partial<Pick<TorchSettings, TorchFlagKey>>;

/** The train keys and train.torch keys that have a flag (the same names). */
const TRAIN_FLAG_KEYS = ["trainer", "lr", "epochs", "batchSize", "seed"] as const satisfies (keyof TrainConfig)[];
type TrainFlagKey = (typeof TRAIN_FLAG_KEYS)[number];
const TORCH_FLAG_KEYS = [
  "nproc",
  "python",
  "nnodes",
  "nodeRank",
  "masterAddr",
  "masterPort",
] as const satisfies (keyof TorchSettings)[];
type TorchFlagKey = (typeof TORCH_FLAG_KEYS)[number];

/** The section with every given flag of `keys` over it: a flag named like a config key sets that key. */
function overKeys<K extends string>(
  section: Record<string, unknown> | undefined,
  opts: Partial<Record<K, unknown>>,
  keys: readonly K[],
): Record<string, unknown> {
  return { ...section, ...Object.fromEntries(keys.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]])) };
}

/** The memory check's flags as the library takes them. */
export const memoryFlags = (o: { memoryLimit?: number; memoryCheck?: boolean }): MemoryOptions => ({
  check: o.memoryCheck !== false,
  limitGB: o.memoryLimit,
});

/** The train section with the trainer flags (shared with `sso iterate`) over it; validated by the caller. */
export function withTrainerFlags(train: Record<string, unknown> & { torch?: object }, opts: Partial<TrainCliOptions>) {
  return {
    ...overKeys(train, opts, ["trainer"]),
    torch: overKeys(train.torch as Record<string, unknown>, opts, TORCH_FLAG_KEYS),
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
      ...withTrainerFlags(overKeys(file.train, opts, TRAIN_FLAG_KEYS), opts),
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
