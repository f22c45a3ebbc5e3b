// Decoding weights: the model's linear matrices and its LM head repacked into panels (dtype.ts: Panels) for the
// products of decoding, which have one row per active sequence. From panels a row reads each weight as one
// contiguous stream instead of as 8–32 interleaved rows, and decoding is bound by how fast the weights come from
// memory (10M bench model, batch 1: the products ran ~1.3× faster). The bits are those of the weights themselves.
// The panels are a second copy of every matrix, made by the Decoder for its lifetime (the weights must not change
// meanwhile: no training while a Decoder lives), and only up to DECODE_PANELS_BYTES; a larger model decodes from
// its weights in place.
import { isHalf, type Panels, panelsLength, type Weight } from "../tensor/dtype.js";
import type { ModelConfig } from "./config.js";
import { LORA_MODULE_NAMES, LORA_MODULES, moduleShape } from "./lora.js";
import type { Model } from "./model.js";

/** The most memory the panels may take (1 GiB: a 0.5B model's BF16 matrices, or a 250M model's fp32 ones). */
export const DECODE_PANELS_BYTES = 2 ** 30;

/** The weights a decoding forward reads: every tensor of the model, with the layers' matrices as panels, and the
 *  LM head's panels. */
export interface DecodeWeights {
  tensors: ReadonlyMap<string, Weight | Panels>;
  head: Panels;
}

/** Bytes the panels of a model of this shape take (`bytes` per weight element: 4, or 2 for 16-bit matrices), or 0
 *  when they would exceed DECODE_PANELS_BYTES and are not made. */
export function decodePanelsBytes(c: ModelConfig, bytes: number): number {
  let n = panelsLength(c.vocabSize, c.hiddenSize);
  for (const m of LORA_MODULE_NAMES) n += c.numLayers * panelsLength(...moduleShape(c, m));
  return n * bytes <= DECODE_PANELS_BYTES ? n * bytes : 0;
}

/** The model's decoding weights, or undefined when their panels would exceed DECODE_PANELS_BYTES. */
export function decodeWeights(model: Model): DecodeWeights | undefined {
  const c = model.config,
    be = model.backend;
  const matrices: [string, Weight, number, number][] = [];
  for (let l = 0; l < c.numLayers; l++)
    for (const m of LORA_MODULE_NAMES) {
      const name = `model.layers.${l}.${LORA_MODULES[m].path}.weight`,
        w = model.weight(name);
      if (!w) throw new Error(`decodeWeights: the model has no tensor ${name}`);
      matrices.push([name, w, ...moduleShape(c, m)]);
    }
  const head = model.lmHead,
    bytes = (w: Weight, N: number, K: number) => panelsLength(N, K) * (isHalf(w) ? 2 : 4);
  const total = matrices.reduce((n, [, w, N, K]) => n + bytes(w, N, K), bytes(head, c.vocabSize, c.hiddenSize));
  if (total > DECODE_PANELS_BYTES) return undefined;
  const tensors = new Map(matrices.map(([name, w, N, K]) => [name, be.packPanels(w, N, K)]));
  return { tensors: model.tensorsWith(tensors), head: be.packPanels(head, c.vocabSize, c.hiddenSize) };
}
