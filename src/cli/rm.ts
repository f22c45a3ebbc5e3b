// `sso rm train | score | eval`: flags in, one library function out (src/rm/run-train.ts, score.ts, eval.ts).

import { type RmExperimentOptions, runRmExperiment } from "../demo/rm-experiment.js";
import { parseDataSpec } from "../rm/data.js";
import { evalRewardModel, type RewardEvalOptions } from "../rm/eval.js";
import { type RewardFilterOptions, rewardFilter } from "../rm/filter.js";
import { runRmTrain } from "../rm/run-train.js";
import { type RewardScoreOptions, scoreRewardFile } from "../rm/score.js";
import { RmTrainConfig } from "../rm/train.js";
import { validate } from "../sso/file.js";
import { checkRunFolder } from "../util/output-path.js";
import { TRAIN_OUTPUTS } from "./train.js";

export interface RmTrainCliOptions {
  model: string;
  data: string[];
  out: string;
  resume: boolean;
  backend: string;
  lr?: number;
  epochs?: number;
  batchSize?: number;
  microBatch?: number;
  seed?: number;
  centerRewards?: number;
  saveEvery?: number;
  maxLength?: number;
  ssoContrastive: boolean;
}

export function runRmTrainCli(o: RmTrainCliOptions): void {
  const specs = o.data.map(parseDataSpec);
  checkRunFolder(
    "--out",
    o.out,
    [{ flag: "--model", path: o.model }, ...specs.map((d) => ({ flag: "--data", path: d.path }))],
    TRAIN_OUTPUTS.slice(0, 1),
  );
  const config = validate(
    {
      ...(o.lr !== undefined && { lr: o.lr }),
      ...(o.epochs !== undefined && { epochs: o.epochs }),
      ...(o.batchSize !== undefined && { batchSize: o.batchSize }),
      ...(o.microBatch !== undefined && { microBatch: o.microBatch }),
      ...(o.seed !== undefined && { seed: o.seed }),
      ...(o.centerRewards !== undefined && { centerRewards: o.centerRewards }),
      ...(o.saveEvery !== undefined && { saveEvery: o.saveEvery }),
    },
    RmTrainConfig,
    "command line",
  );
  runRmTrain({
    model: o.model,
    data: specs,
    out: o.out,
    config,
    backend: o.backend,
    resume: o.resume,
    ssoContrastive: o.ssoContrastive,
    maxLength: o.maxLength,
  });
}

export function runRmScoreCli(o: RewardScoreOptions): void {
  scoreRewardFile(o);
}

export function runRmEvalCli(o: RewardEvalOptions): void {
  evalRewardModel(o);
}

export function runRmDemoCli(o: RmExperimentOptions & { heldOut: number }): void {
  runRmExperiment(o);
}

export function runRmFilterCli(o: RewardFilterOptions): void {
  rewardFilter(o);
}
