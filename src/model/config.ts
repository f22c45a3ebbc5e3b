// Hugging Face config.json → the one ModelConfig that Llama, Mistral and Qwen2 share. The differences between
// the families are flags here (qkv bias, tied embeddings, RoPE scaling), not subclasses. Anything the engine does
// not implement is refused with an error naming the key, rather than silently computing a different model.

export type RopeScaling =
  | { type: "none" }
  | { type: "linear"; factor: number }
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface ModelConfig {
  modelType: "llama" | "mistral" | "qwen2";
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  qkvBias: boolean;
  maxPositionEmbeddings: number;
  initializerRange: number;
  /**
   * A `*ForSequenceClassification` folder with one label (a reward model): `score.weight` (1, hidden), no bias,
   * replaces the LM head (src/rm/).
   */
  scoreHead: boolean;
  /** The config.json object as read, written back unchanged when the model is saved. */
  raw: Record<string, unknown>;
}

export class ConfigError extends Error {}

const MODEL_TYPES = ["llama", "mistral", "qwen2"] as const;

type Raw = Record<string, unknown>;

function fail(source: string, key: string, msg: string): never {
  throw new ConfigError(`${source}: ${key}: ${msg}`);
}

function int(raw: Raw, source: string, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
    fail(source, key, `expected a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function num(raw: Raw, source: string, key: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    fail(source, key, `expected a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(raw: Raw, source: string, key: string, fallback: boolean): boolean {
  const v = raw[key] ?? fallback;
  if (typeof v !== "boolean") fail(source, key, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function parseRopeScaling(raw: Raw, source: string): RopeScaling {
  const rs = raw.rope_scaling;
  if (rs === undefined || rs === null) return { type: "none" };
  if (typeof rs !== "object") fail(source, "rope_scaling", `expected an object or null, got ${JSON.stringify(rs)}`);
  const r = rs as Raw;
  const type = r.rope_type ?? r.type;
  const key = r.rope_type !== undefined ? "rope_scaling.rope_type" : "rope_scaling.type";
  switch (type) {
    case "default":
      return { type: "none" };
    case "linear":
      return { type: "linear", factor: num(r, `${source}: rope_scaling`, "factor", NaN) };
    case "llama3":
      return {
        type: "llama3",
        factor: num(r, `${source}: rope_scaling`, "factor", NaN),
        lowFreqFactor: num(r, `${source}: rope_scaling`, "low_freq_factor", NaN),
        highFreqFactor: num(r, `${source}: rope_scaling`, "high_freq_factor", NaN),
        originalMaxPositionEmbeddings: int(r, `${source}: rope_scaling`, "original_max_position_embeddings"),
      };
    default:
      fail(source, key, `unsupported RoPE scaling ${JSON.stringify(type)} (supported: none, linear, llama3)`);
  }
}

/**
 * Whether architectures names a `*ForSequenceClassification` model; it must have one label, counted as
 * transformers counts them (num_labels, else the id2label entries, else its default of 2).
 */
function isSequenceClassifier(r: Raw, source: string): boolean {
  const arch = Array.isArray(r.architectures) ? r.architectures[0] : undefined;
  if (typeof arch !== "string" || !arch.endsWith("ForSequenceClassification")) return false;
  const id2label = r.id2label;
  const labels = r.num_labels ?? (typeof id2label === "object" && id2label !== null ? Object.keys(id2label).length : 2);
  if (labels !== 1)
    fail(source, "num_labels", `${JSON.stringify(labels)} labels; only reward models (1 label) are supported`);
  return true;
}

/** Validates a parsed config.json. `source` names the file in error messages. */
export function parseConfig(raw: unknown, source = "config.json"): ModelConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new ConfigError(`${source}: expected a JSON object`);
  const r = raw as Raw;
  const modelType = r.model_type;
  if (!MODEL_TYPES.includes(modelType as never)) {
    fail(source, "model_type", `unsupported ${JSON.stringify(modelType)} (supported: ${MODEL_TYPES.join(", ")})`);
  }
  const act = r.hidden_act ?? "silu";
  if (act !== "silu") fail(source, "hidden_act", `unsupported ${JSON.stringify(act)} (only silu)`);
  if (modelType !== "qwen2" && bool(r, source, "attention_bias", false))
    fail(source, "attention_bias", "true is not supported (o_proj bias)");
  if (bool(r, source, "mlp_bias", false)) fail(source, "mlp_bias", "true is not supported");
  const maxPos = int(r, source, "max_position_embeddings", 2048);
  if (modelType === "qwen2" && bool(r, source, "use_sliding_window", false))
    fail(source, "use_sliding_window", "sliding-window attention is not supported");
  if (modelType === "mistral" && r.sliding_window !== undefined && r.sliding_window !== null) {
    const w = int(r, source, "sliding_window");
    if (w < maxPos)
      fail(
        source,
        "sliding_window",
        `sliding-window attention (${w} < max_position_embeddings ${maxPos}) is not supported`,
      );
  }
  const hiddenSize = int(r, source, "hidden_size");
  const numHeads = int(r, source, "num_attention_heads");
  const numKvHeads = int(r, source, "num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0)
    fail(source, "num_key_value_heads", `${numKvHeads} does not divide num_attention_heads ${numHeads}`);
  const headDim = r.head_dim === undefined || r.head_dim === null ? hiddenSize / numHeads : int(r, source, "head_dim");
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    fail(source, "head_dim", `head size ${headDim} must be an even integer`);
  return {
    modelType: modelType as ModelConfig["modelType"],
    vocabSize: int(r, source, "vocab_size"),
    hiddenSize,
    intermediateSize: int(r, source, "intermediate_size"),
    numLayers: int(r, source, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    ropeTheta: num(r, source, "rope_theta", 10000),
    ropeScaling: parseRopeScaling(r, source),
    rmsNormEps: num(r, source, "rms_norm_eps", 1e-6),
    tieWordEmbeddings: bool(r, source, "tie_word_embeddings", false),
    qkvBias: modelType === "qwen2",
    maxPositionEmbeddings: maxPos,
    initializerRange: num(r, source, "initializer_range", 0.02),
    scoreHead: isSequenceClassifier(r, source),
    raw: r,
  };
}

/**
 * RoPE inverse frequencies (HS/2), as Hugging Face computes them: 1/θ^(2i/HS) in fp32, then the scaling rule.
 */
export function ropeInvFreq(c: ModelConfig): Float32Array {
  const HS = c.headDim;
  const base = Array.from({ length: HS / 2 }, (_, i) => Math.fround(1 / c.ropeTheta ** Math.fround((2 * i) / HS)));
  const s = c.ropeScaling;
  if (s.type === "none") return Float32Array.from(base);
  if (s.type === "linear") return Float32Array.from(base, (f) => f / s.factor);
  // llama3: long wavelengths are divided by the factor, short ones kept, the band between interpolated.
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return Float32Array.from(base, (f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowWavelen) return f / s.factor;
    if (wavelen < highWavelen) return f;
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}
