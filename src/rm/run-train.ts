// `sso rm train` as a library function: reads and mixes the preference files (data.ts), tokenises them with the
// model folder's chat template, refuses to overwrite a checkpoint unless resuming, opens the reward model (an RM
// folder, or a causal LM given a fresh score head) or the checkpoint's, trains (train.ts) and prints one closing
// line with the skipped-pair counts. Not here: flags.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getBackend } from "../backends/index.js";
import { loadModel, readConfig } from "../model/folder.js";
import { openTokenizer } from "../model/open.js";
import { readCheckpointState } from "../train/checkpoint.js";
import { type DataSpec, mixPairs, skippedText, tokenizePairs } from "./data.js";
import { openForTraining, REWARD_POSITION_KEY, rewardPosition } from "./model.js";
import { type RmStepMetrics, type RmTrainConfig, trainRewardModel } from "./train.js";

export interface RmTrainRun {
  /** A reward-model folder, or a causal LM folder (its lm_head is dropped, the score head drawn from the seed). */
  model: string;
  data: readonly DataSpec[];
  out: string;
  config: RmTrainConfig;
  backend: string;
  resume: boolean;
  /** SSO records also give (x+, y+ ≻ y-), the positive system message before the prompt. */
  ssoContrastive?: boolean;
  /** Pairs with more tokens than this on either side are skipped (default: max_position_embeddings). */
  maxLength?: number;
  quiet?: boolean;
}

export function runRmTrain(run: RmTrainRun): RmStepMetrics[] {
  if (run.data.length === 0) throw new Error("--data: give at least one preference file");
  const config = readConfig(run.model);
  const tok = openTokenizer(run.model);
  const ckpt = join(run.out, "checkpoint");
  const resuming = run.resume && readCheckpointState(ckpt) !== undefined;
  if (!run.resume && existsSync(ckpt))
    throw new Error(`${ckpt} exists: pass --resume to continue it, or choose another --out`);
  // The reward position of what training continues: a checkpoint's, an RM folder's, or a fresh head's (last_token).
  // A checkpoint of another position has other token ids, so its fingerprint refuses the resume.
  const from = resuming ? join(ckpt, "model") : run.model;
  const position = rewardPosition(resuming ? readConfig(from) : config, join(from, "config.json"));
  const mixed = mixPairs(run.data, run.config.seed, { contrastive: run.ssoContrastive });
  const pairs = tokenizePairs(tok, mixed.pairs, run.maxLength ?? config.maxPositionEmbeddings, mixed.skipped, position);
  if (pairs.length === 0)
    throw new Error(`${run.data.map((d) => d.path).join(", ")}: no pairs to train on (${skippedText(mixed.skipped)})`);
  const model = resuming
    ? loadModel(join(ckpt, "model"), getBackend(run.backend))
    : openForTraining(run.model, run.backend, tok.padId, run.config.seed);
  model.config.raw[REWARD_POSITION_KEY] = position; // recorded in every checkpoint and in OUT/model
  if (!run.quiet)
    console.error(
      `rm train: ${pairs.length} pairs (${mixed.perFile.map((f) => `${f.path}: ${f.used} of ${f.pairs}`).join(", ")}; ${skippedText(mixed.skipped)})`,
    );
  const t0 = performance.now();
  const steps = trainRewardModel(model, pairs, run.config, { out: run.out, sourceDir: run.model, resume: resuming });
  const last = steps[steps.length - 1];
  if (!run.quiet)
    console.error(
      `trained ${steps.length} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s${last ? ` (final loss ${last.loss.toFixed(4)}, accuracy ${last.accuracy.toFixed(2)})` : ""} → ${join(run.out, "model")}`,
    );
  return steps;
}
