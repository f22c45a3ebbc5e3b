// `sso generate --model DIR --data IN.jsonl --out OUT.jsonl`: flags in, the library's generateFile
// (src/sample/generate-file.ts: per-line overrides, resumable in-order output, the arguments fingerprint), or with
// --best-of N --reward-model RM its best-of-n (src/rm/best-of.ts).
import { generateBestOf } from "../rm/best-of.js";
import { type GenerateFileOptions, generateFile } from "../sample/generate-file.js";

export function runGenerate(opts: GenerateFileOptions & { bestOf: number; rewardModel?: string }): void {
  if (opts.bestOf > 1 !== (opts.rewardModel !== undefined))
    throw new Error("--best-of N (N ≥ 2) and --reward-model DIR go together");
  if (opts.rewardModel !== undefined) generateBestOf({ ...opts, rewardModel: opts.rewardModel });
  else generateFile(opts);
}
