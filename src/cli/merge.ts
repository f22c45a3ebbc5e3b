// `sso merge --model BASE --adapter DIR --out DIR`: a PEFT LoRA adapter folded into its base model, written as a
// full Hugging Face folder (the work is src/model/merge.ts).
import { type MergeRun, mergeAdapter } from "../model/merge.js";

export function runMerge(opts: MergeRun): void {
  const t0 = performance.now();
  mergeAdapter(opts);
  console.error(
    `merged ${opts.adapter} into ${opts.model} in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.out}`,
  );
}
