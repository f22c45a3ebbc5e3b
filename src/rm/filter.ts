// `sso rm filter`: the reward filter for synthesised data — keeps the SSO records whose y+ out-scores y- under a
// reward model by at least a margin (r(x, y+) − r(x, y-) ≥ margin, x the plain prompt), writing the kept records
// unchanged (atomically) and the counts. A separate step after `sso synth`, so synthesis itself stays unchanged and
// a filter can be tried with several margins on the same records.

import { openTokenizer } from "../model/open.js";
import { SsoRecord } from "../sso/record.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl, toJsonl } from "../util/jsonl.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { checkRewardFolder, loadRewardModel, rewardEncoder, rewards } from "./model.js";

export interface RewardFilterOptions {
  model: string;
  data: string;
  out: string;
  margin: number;
  backend: string;
  batchTokens: number;
}

/** Filters opts.data's records into opts.out; returns how many were kept of how many. */
export function rewardFilter(opts: RewardFilterOptions): { kept: number; total: number } {
  checkRewardFolder(opts.model);
  const records = readJsonl(opts.data, SsoRecord).map((l) => l.value);
  checkOutputFile("--out", opts.out);
  const tok = openTokenizer(opts.model),
    model = loadRewardModel(opts.model, opts.backend);
  const encode = rewardEncoder(tok, model, `${opts.model}/config.json`);
  const seq = (r: SsoRecord, y: string) => encode(r.prompt, y);
  const bar = progress("rm filter", records.length, "records"),
    kept: SsoRecord[] = [];
  for (let i = 0; i < records.length; i += 32) {
    const chunk = records.slice(i, i + 32);
    const r = rewards(
      model,
      chunk.flatMap((x) => [seq(x, x.chosen[0].content), seq(x, x.rejected[0].content)]),
      opts.batchTokens,
    );
    chunk.forEach((x, k) => {
      if (r[2 * k] - r[2 * k + 1] >= opts.margin) kept.push(x);
    });
    bar.tick(chunk.length);
  }
  bar.stop();
  writeFileAtomic(opts.out, toJsonl(kept));
  console.error(`kept ${kept.length} of ${records.length} records (reward margin ≥ ${opts.margin}) → ${opts.out}`);
  return { kept: kept.length, total: records.length };
}
