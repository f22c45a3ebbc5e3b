// `sso train --model DIR --data DATA.jsonl --out DIR`: flags over the config file's train section, then the
// library's runTrain (src/sso/run-train.ts). OUT/model is the trained model folder, OUT/metrics.jsonl one line per
// step, OUT/checkpoint the latest checkpoint; `--resume` continues from it exactly.
import { loadConfig } from "../config.js";
import { validate } from "../sso/file.js";
import { runTrain } from "../sso/run-train.js";
import { TrainConfig } from "../sso/train-config.js";

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
}

export function trainCommand(opts: TrainCliOptions): void {
  const file = loadConfig(opts.config);
  const config = validate(
    {
      ...file.train,
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
  });
}
