// `sso init-model --config CONFIG.json --out DIR [--seed N] [--force]`: a freshly initialised model folder from a
// Hugging Face config, seeded; tokenizer files can be taken from another folder. Checked before any work: --out
// may replace only a folder this tool wrote (only model-folder files in it; src/util/output-path.ts) unless
// --force, --tokenizer-from must be a folder with a tokenizer.json, and the weights must fit in memory (the
// refusal names the config keys that make the model that large).
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { getBackend } from "../backends/index.js";
import { type ModelConfig, parseConfig } from "../model/config.js";
import { initModel, isModelFolderEntry, saveModel } from "../model/folder.js";
import { availableMemory, describeEstimate, estimateMemory, gb } from "../model/memory.js";
import { numel, type ParamSpec, paramSpecs } from "../model/params.js";
import { readJson } from "../util/files.js";
import { checkOutputFolder } from "../util/output-path.js";

export interface InitModelOptions {
  config: string;
  out: string;
  seed: number;
  dtype: "F32" | "BF16";
  tokenizerFrom?: string;
  force?: boolean;
}

/** The largest single tensor a Float32Array holds here (V8's limit on typed arrays). */
const MAX_TENSOR = 2 ** 32;

/** The model's parameter count, in two parts, from a one-layer twin's tensors (never a list as long as the layers). */
function parameterCounts(c: ModelConfig): { perLayer: number; rest: number; specs: ParamSpec[] } {
  const specs = paramSpecs({ ...c, numLayers: 1 });
  const perLayer = specs.filter((s) => s.name.startsWith("model.layers.0.")).reduce((a, s) => a + numel(s.shape), 0);
  const all = specs.reduce((a, s) => a + numel(s.shape), 0);
  return { perLayer, rest: all - perLayer, specs };
}

/** Which config keys make the model this large: the layers' share or the embedding's, in words. */
function sizeCulprit(c: ModelConfig, perLayer: number, rest: number): string {
  return perLayer * c.numLayers >= rest
    ? `num_hidden_layers ${c.numLayers} × ${perLayer.toExponential(2)} parameters per layer (hidden_size ${c.hiddenSize}, intermediate_size ${c.intermediateSize})`
    : `vocab_size ${c.vocabSize} × hidden_size ${c.hiddenSize}`;
}

/** Refuses, naming the config keys, a model whose fp32 weights do not fit in memory or in one typed array. */
function checkInitMemory(c: ModelConfig, source: string): void {
  const { perLayer, rest, specs } = parameterCounts(c),
    limit = availableMemory(),
    est = estimateMemory(c, { trainable: 0, frozen: rest + perLayer * c.numLayers });
  if (est.total > limit.bytes)
    throw new Error(
      `${source}: the model needs ${gb(est.total)} (${describeEstimate(est)}), more than the ${gb(limit.bytes)} of ${limit.source}; the size comes from ${sizeCulprit(c, perLayer, rest)}`,
    );
  const big = specs.find((s) => numel(s.shape) > MAX_TENSOR);
  if (big)
    throw new Error(
      `${source}: ${big.name} would hold ${numel(big.shape)} numbers, more than one array holds (${MAX_TENSOR}); the size comes from ${sizeCulprit(c, perLayer, rest)}`,
    );
}

/** --tokenizer-from must be a folder holding a tokenizer.json (the other carried files are optional). */
function checkTokenizerFrom(dir: string): void {
  if (!existsSync(dir)) throw new Error(`--tokenizer-from ${dir}: no such folder`);
  if (!statSync(dir).isDirectory())
    throw new Error(`--tokenizer-from ${dir}: is a file; give the folder that holds tokenizer.json`);
  if (!existsSync(join(dir, "tokenizer.json"))) throw new Error(`--tokenizer-from ${dir}: holds no tokenizer.json`);
}

export function runInitModel(opts: InitModelOptions): void {
  const config = parseConfig(readJson(opts.config), opts.config);
  checkOutputFolder("--out", opts.out, {
    owned: isModelFolderEntry,
    force: opts.force,
    what: "model folder",
    inputs: [{ flag: "--tokenizer-from", path: opts.tokenizerFrom }], // --config is read whole before the write
  });
  if (opts.tokenizerFrom !== undefined) checkTokenizerFrom(opts.tokenizerFrom);
  checkInitMemory(config, opts.config);
  const model = initModel(config, opts.seed, getBackend("ref"));
  saveModel(model, opts.out, { dtype: opts.dtype, carryFrom: opts.tokenizerFrom, force: opts.force });
  const n = [...model.params.values()].reduce((s, p) => s + p.length, 0);
  console.error(
    `initialised ${config.modelType} model, ${(n / 1e6).toFixed(2)}M parameters, seed ${opts.seed} → ${opts.out}`,
  );
}
