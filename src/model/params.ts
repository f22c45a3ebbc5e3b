// The parameter list of a decoder model, under Hugging Face tensor names and shapes: what a checkpoint must hold,
// how a fresh model is initialised, and which names are frozen. Storage is one Float32Array per tensor; a model
// loaded for inference from a BF16/F16 folder keeps its matrices 16-bit in a second map (Model.halves, see folder.ts).
import type { Weight } from "../tensor/dtype.js";
import { Rng } from "../tensor/rng.js";
import type { ModelConfig } from "./config.js";
import type { LayerConfig, LayerWeights } from "./layer.js";
import { LAYER_TENSORS } from "./modules.js";

export interface ParamSpec {
  name: string;
  shape: number[];
  init: "normal" | "zeros" | "ones";
}

export type Params = Map<string, Float32Array>;

/** The per-layer tensor names, keyed by the layer code's field names (modules.ts). */
const LAYER_NAMES: [keyof LayerWeights, string][] = LAYER_TENSORS.map((t) => [t.key, t.hf]);

export function layerConfig(c: ModelConfig): LayerConfig {
  return {
    C: c.hiddenSize,
    NH: c.numHeads,
    NKV: c.numKvHeads,
    HS: c.headDim,
    FF: c.intermediateSize,
    eps: c.rmsNormEps,
    qkvBias: c.qkvBias,
  };
}

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const C = c.hiddenSize,
    qd = c.numHeads * c.headDim,
    kvd = c.numKvHeads * c.headDim,
    FF = c.intermediateSize;
  const shapes: Record<keyof LayerWeights, number[]> = {
    inputNorm: [C],
    wq: [qd, C],
    bq: [qd],
    wk: [kvd, C],
    bk: [kvd],
    wv: [kvd, C],
    bv: [kvd],
    wo: [C, qd],
    postNorm: [C],
    wGate: [FF, C],
    wUp: [FF, C],
    wDown: [C, FF],
  };
  const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [c.vocabSize, C], init: "normal" }];
  for (let l = 0; l < c.numLayers; l++) {
    for (const [key, suffix] of LAYER_NAMES) {
      if (key.startsWith("b") && !c.qkvBias) continue;
      const init = key.endsWith("Norm") ? "ones" : key.startsWith("b") ? "zeros" : "normal";
      specs.push({ name: `model.layers.${l}.${suffix}`, shape: shapes[key], init });
    }
  }
  specs.push({ name: "model.norm.weight", shape: [C], init: "ones" });
  if (c.scoreHead) specs.push({ name: "score.weight", shape: [1, C], init: "normal" });
  else if (!c.tieWordEmbeddings) specs.push({ name: "lm_head.weight", shape: [c.vocabSize, C], init: "normal" });
  return specs;
}

/** The weights of layer l as the layer code wants them (views of the parameter arrays, no copies): from Params,
 *  gradients, or a model's weights with its 16-bit matrices. */
export function layerWeights<W extends Weight>(
  params: ReadonlyMap<string, W>,
  l: number,
  qkvBias: boolean,
): LayerWeights<W> {
  const w: Record<string, W | undefined> = {};
  for (const [key, suffix] of LAYER_NAMES) {
    if (key.startsWith("b") && !qkvBias) continue;
    w[key] = params.get(`model.layers.${l}.${suffix}`);
  }
  return w as unknown as LayerWeights<W>;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Fresh parameters as Hugging Face initialises them: N(0, initializer_range²) matrices, zero biases, unit norms. */
export function initParams(c: ModelConfig, seed: number): Params {
  const rng = new Rng(seed);
  const params: Params = new Map();
  for (const s of paramSpecs(c)) {
    const n = numel(s.shape);
    params.set(
      s.name,
      s.init === "normal"
        ? rng.normalArray(n, c.initializerRange)
        : new Float32Array(n).fill(s.init === "ones" ? 1 : 0),
    );
  }
  return params;
}

/** Tensor names that checkpoints may carry but the model recomputes (old Llama checkpoints store inv_freq). */
const IGNORED = /\.rotary_emb\.inv_freq$/;

/**
 * Checks a loaded tensor map against the config: every expected tensor present with its shape, nothing extra
 * (a tied model may still carry lm_head.weight, which is ignored). Throws one line naming the tensor.
 */
export function checkTensors<D>(
  c: ModelConfig,
  tensors: Map<string, { shape: number[]; data: D }>,
  source: string,
): Map<string, D> {
  const params = new Map<string, D>();
  const specs = paramSpecs(c);
  const expected = new Set(specs.map((s) => s.name));
  for (const s of specs) {
    const t = tensors.get(s.name);
    if (!t) throw new Error(`${source}: missing tensor ${s.name} (shape [${s.shape}])`);
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new Error(`${source}: tensor ${s.name} has shape [${t.shape}], config.json implies [${s.shape}]`);
    }
    params.set(s.name, t.data);
  }
  for (const name of tensors.keys()) {
    if (expected.has(name) || IGNORED.test(name) || (c.tieWordEmbeddings && !c.scoreHead && name === "lm_head.weight"))
      continue;
    throw new Error(`${source}: unexpected tensor ${name} (not part of a ${c.modelType} model with this config.json)`);
  }
  return params;
}

/** Compiles frozen-parameter patterns: globs where `*` matches any run of characters, e.g. "model.embed_tokens.*". */
export function frozenMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split("*")
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
          .join(".*")}$`,
      ),
  );
  return (name) => res.some((re) => re.test(name));
}
