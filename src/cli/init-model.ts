// `sso init-model --config CONFIG.json --out DIR [--seed N]`: a freshly initialised model folder from a Hugging
// Face config, seeded; tokenizer files can be taken from another folder.
import { getBackend } from "../backends/index.js";
import { parseConfig } from "../model/config.js";
import { initModel, saveModel } from "../model/folder.js";
import { readJson } from "../util/files.js";

export interface InitModelOptions {
  config: string;
  out: string;
  seed: number;
  dtype: "F32" | "BF16";
  tokenizerFrom?: string;
}

export function runInitModel(opts: InitModelOptions): void {
  const config = parseConfig(readJson(opts.config), opts.config);
  const model = initModel(config, opts.seed, getBackend("ref"));
  saveModel(model, opts.out, { dtype: opts.dtype, carryFrom: opts.tokenizerFrom });
  const n = [...model.params.values()].reduce((s, p) => s + p.length, 0);
  console.error(
    `initialised ${config.modelType} model, ${(n / 1e6).toFixed(2)}M parameters, seed ${opts.seed} → ${opts.out}`,
  );
}
