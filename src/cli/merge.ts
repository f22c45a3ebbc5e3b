// `sso merge --model BASE --adapter DIR --out DIR [--force]`: a PEFT LoRA adapter folded into its base model, written
// as a full Hugging Face folder (the work is src/model/merge.ts). Checked before any work: --out is neither an
// input nor inside or around one, and replaces an existing folder only when that is a model folder this tool
// wrote (src/util/output-path.ts) or with --force.
import { isModelFolderEntry } from "../model/folder.js";
import { type MergeRun, mergeAdapter } from "../model/merge.js";
import { checkOutputFolder } from "../util/output-path.js";

export function runMerge(opts: MergeRun & { force?: boolean }): void {
  checkOutputFolder("--out", opts.out, {
    owned: isModelFolderEntry,
    force: opts.force,
    what: "model folder",
    inputs: [
      { flag: "--model", path: opts.model },
      { flag: "--adapter", path: opts.adapter },
    ],
  });
  const t0 = performance.now();
  mergeAdapter(opts);
  console.error(
    `merged ${opts.adapter} into ${opts.model} in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.out}`,
  );
}
