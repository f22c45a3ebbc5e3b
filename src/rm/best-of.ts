// `sso generate --best-of N --reward-model DIR`: best-of-n sampling, where the reward model picks which of a line's
// N samples is written. Generation, seeds and resuming are generate-file.ts's; this only supplies the scorer
// (the reward model with its own folder's chat template) and what the choice depends on.

import { policyHash } from "../model/hash.js";
import { openTokenizer } from "../model/open.js";
import { type GenerateFileOptions, generateFile } from "../sample/generate-file.js";
import { checkRewardFolder, loadRewardModel, rewardEncoder, rewardPosition, rewards } from "./model.js";

export function generateBestOf(opts: GenerateFileOptions & { bestOf: number; rewardModel: string }): void {
  if (!Number.isInteger(opts.bestOf) || opts.bestOf < 2) throw new Error(`--best-of must be ≥ 2, got ${opts.bestOf}`);
  checkRewardFolder(opts.rewardModel);
  const tok = openTokenizer(opts.rewardModel),
    rm = loadRewardModel(opts.rewardModel, opts.backend),
    encode = rewardEncoder(tok, rm, `${opts.rewardModel}/config.json`);
  generateFile(opts, {
    n: opts.bestOf,
    score: (messages, texts) =>
      rewards(
        rm,
        texts.map((t) => encode(messages, t)),
      ),
    fingerprint: {
      reward_model_hash: policyHash(opts.rewardModel),
      reward_position: rewardPosition(rm.config, opts.rewardModel),
    },
  });
}
