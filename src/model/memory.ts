// Peak-memory accounting: what a configuration will hold at its peak, estimated before a long run from the model's
// shape and the workload's token counts, and the machine's limit to hold it against. The workspace terms are exact
// counts of the buffers model.ts and layer.ts take (a test compares them with a real model's workspace); weights,
// gradients and AdamW moments are their sizes; a measured fixed overhead covers Node, the addon and the tokenizer.
// Not here: where a run's token counts come from (src/sso/memory-check.ts).
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import type { ModelConfig } from "./config.js";
import { decodePanelsBytes } from "./decode-weights.js";
import { LORA_MODULE_NAMES, type LoraModule, moduleShape } from "./lora.js";
import { chunkRows, LOGITS_CACHE_FLOATS } from "./model.js";
import { frozenMatcher, numel, paramSpecs } from "./params.js";

/** What a run holds and computes; absent parts cost nothing. */
export interface Workload {
  /** Parameters that train: an fp32 master, a gradient and two AdamW moments each (LoRA: the adapters). */
  trainable: number;
  /** Parameters held frozen, `frozenBytes` each. */
  frozen: number;
  /** Bytes per frozen weight in memory: 4 (fp32), 2 with 16-bit frozen weights. Default 4. */
  frozenBytes?: number;
  /** A second, frozen copy of the model held at the same time (a reference model), `frozenBytes` per weight. */
  reference?: boolean;
  /** One training forward/backward: packed tokens and scored rows of the largest micro-batch. */
  train?: { tokens: number; rows: number; recompute: boolean };
  /** Inference: scoring batches (forward) and batched sampling (KV cache of slots × capacity, one prefill of all). */
  infer?: { tokens: number; rows: number; slots?: number; capacity?: number; prefillTokens?: number };
}

export interface MemoryEstimate {
  /** Bytes per part; zero parts are left out. */
  parts: Record<string, number>;
  total: number;
}

/** Node, the native addon with its BLAS and GEMM buffers (measured: 54 MB RSS for a tiny training step). */
const BASE_BYTES = 64 * 2 ** 20;
/** The tokenizer's vocabulary and merges in the JS heap (measured: a 151,669-entry tokenizer.json adds 110 MB). */
const TOKENIZER_BYTES_PER_ENTRY = 768;

/** Floats of one layer's activations per token (layer.ts LayerActivations plus the layer's output). */
function layerFloats(c: ModelConfig): number {
  const C = c.hiddenSize,
    qd = c.numHeads * c.headDim,
    kvd = c.numKvHeads * c.headDim;
  return 4 * C + 2 * qd + 2 * kvd + 3 * c.intermediateSize + c.numHeads + 2;
}

/** Floats of layerBackward's temporaries per token. */
function layerGradFloats(c: ModelConfig): number {
  const qd = c.numHeads * c.headDim,
    kvd = c.numKvHeads * c.headDim;
  return 3 * c.hiddenSize + 3 * c.intermediateSize + 3 * qd + 3 * kvd;
}

/** Floats the LM head's logits take in training: every scored row's when they fit the cache, else one chunk. */
const headFloats = (V: number, R: number, cached: boolean): number =>
  cached && R * V <= LOGITS_CACHE_FLOATS ? R * V : Math.min(chunkRows(V), R) * V;

/**
 * The training workspace after forward({forBackward}) and backward of T packed tokens with R scored rows: exactly
 * the floats Model's training workspace then holds (activations, layer inputs with recomputation, LM-head buffers,
 * backward temporaries).
 */
export function trainWorkspaceFloats(c: ModelConfig, T: number, R: number, recompute: boolean): number {
  const C = c.hiddenSize,
    V = c.vocabSize,
    L = c.numLayers;
  const layers = recompute ? L * T * C + T * layerFloats(c) : L * T * layerFloats(c);
  const forward = T * C + layers + T * C + T + R * C + R + headFloats(V, R, true);
  const backward = headFloats(V, R, false) + R * C + 3 * T * C + T * layerGradFloats(c);
  return forward + backward;
}

/** The inference workspace after a forward of T packed tokens with R scored rows (one layer's set, reused by every
 *  layer: model.ts copies each layer's output back into its input's buffer). */
export function inferWorkspaceFloats(c: ModelConfig, T: number, R: number): number {
  const C = c.hiddenSize;
  return T * C + T * layerFloats(c) + T * C + T + R * C + R + headFloats(c.vocabSize, R, false);
}

/** Trainable and frozen parameter counts of the whole model under train.freeze globs. */
export function parameterSplit(c: ModelConfig, freeze: readonly string[] = []): { trainable: number; frozen: number } {
  const frozen = frozenMatcher(freeze);
  let t = 0,
    f = 0;
  for (const s of paramSpecs(c)) {
    if (frozen(s.name)) f += numel(s.shape);
    else t += numel(s.shape);
  }
  return { trainable: t, frozen: f };
}

/** LoRA adapter parameters of rank r on the targeted modules (default: every linear layer of attention and MLP):
 *  r·(in + out) each, in every layer. */
export function loraParameters(c: ModelConfig, r: number, targets: readonly LoraModule[] = LORA_MODULE_NAMES): number {
  const perLayer = targets.reduce((n, m) => n + moduleShape(c, m)[0] + moduleShape(c, m)[1], 0);
  return c.numLayers * r * perLayer;
}

/** The peak bytes of a workload on a model of this shape. */
export function estimateMemory(c: ModelConfig, w: Workload): MemoryEstimate {
  const fb = w.frozenBytes ?? 4,
    all = w.trainable + w.frozen,
    kvRow = c.numKvHeads * c.headDim;
  const parts: Record<string, number> = {
    weights: 4 * w.trainable + fb * w.frozen,
    grads: 4 * w.trainable,
    adamw: 8 * w.trainable,
    reference: w.reference ? fb * all : 0,
    // Training activations, plus attention backward's per-token scratch (T·NH floats in the addon).
    activations: w.train
      ? 4 * (trainWorkspaceFloats(c, w.train.tokens, w.train.rows, w.train.recompute) + w.train.tokens * c.numHeads)
      : 0,
    // Scoring and prefill share the inference workspace; a prefill also makes its logits rows and attention lse.
    inference: w.infer
      ? 4 *
        (inferWorkspaceFloats(
          c,
          Math.max(w.infer.tokens, w.infer.prefillTokens ?? 0),
          Math.max(w.infer.rows, w.infer.slots ?? 0),
        ) +
          (w.infer.slots ?? 0) * c.vocabSize +
          (w.infer.prefillTokens ?? 0) * c.numHeads)
      : 0,
    // Sampling's decoder holds the matrices a second time, as panels (decode-weights.ts), up to a limit.
    decodePanels: w.infer?.slots ? decodePanelsBytes(c, fb) : 0,
    kvCache: w.infer?.slots ? 4 * 2 * c.numLayers * w.infer.slots * (w.infer.capacity ?? 0) * kvRow : 0,
    overhead: BASE_BYTES + TOKENIZER_BYTES_PER_ENTRY * c.vocabSize,
  };
  for (const k of Object.keys(parts)) if (parts[k] === 0) delete parts[k];
  return { parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}

/** The memory a run may use and where that number comes from. */
export interface MemoryLimit {
  bytes: number;
  source: string;
}

/** Physical memory, or the cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes) when that is lower. */
export function availableMemory(): MemoryLimit {
  let best: MemoryLimit = { bytes: totalmem(), source: "physical memory" };
  for (const path of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    let text: string;
    try {
      text = readFileSync(path, "utf8").trim();
    } catch {
      continue;
    }
    const n = Number(text); // "max" (no limit) is NaN
    if (Number.isFinite(n) && n > 0 && n < best.bytes) best = { bytes: n, source: path };
  }
  return best;
}

/** Bytes as "1.84 GB" (2^30 bytes) from 1 GB up, else "312 MB" (2^20). */
export const gb = (bytes: number): string =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GB` : `${Math.round(bytes / 2 ** 20)} MB`;

/** "weights 1.84 GB, grads 1.84 GB, …" */
export function describeEstimate(e: MemoryEstimate): string {
  return Object.entries(e.parts)
    .map(([k, v]) => `${k} ${gb(v)}`)
    .join(", ");
}
