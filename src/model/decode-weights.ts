// Decoding weights: the model's matrices and its LM head repacked into panels (dtype.ts: Panels) for the products
// of decoding, which have one row per active sequence. From panels a row reads each weight as one contiguous stream
// instead of as 8–32 interleaved rows, and decoding is bound by how fast the weights come from memory; q, k and v
// are stacked into one product, gate and up into another (four products per layer instead of seven). The bits are
// those of the separate products on the weights themselves.
// The panels are a second copy of every matrix, made by the Decoder for its lifetime (the weights must not change
// meanwhile: no training while a Decoder lives), and only up to DECODE_PANELS_BYTES; a larger model decodes from its
// weights in place.
import type { Backend } from "../backends/backend.js";
import { isHalf, type Panels, panelsLength, type Weight, widenWeight } from "../tensor/dtype.js";
import type { ModelConfig } from "./config.js";
import type { LayerPanels } from "./layer.js";
import type { Model } from "./model.js";
import { layerConfig, layerWeights } from "./params.js";

/** The most memory the panels may take (1 GiB: a 0.5B model's BF16 matrices, or a 250M model's fp32 ones). */
export const DECODE_PANELS_BYTES = 2 ** 30;

/** Every layer's panels and the LM head's. */
export interface DecodeWeights {
  layers: LayerPanels[];
  head: Panels;
}

/** The (N, K) shapes of a layer's panels: q/k/v stacked, o, gate/up stacked, down. */
function panelShapes(c: ModelConfig): Record<keyof LayerPanels, [number, number]> {
  const lc = layerConfig(c),
    qd = lc.NH * lc.HS,
    kvd = lc.NKV * lc.HS;
  return { qkv: [qd + 2 * kvd, lc.C], o: [lc.C, qd], gateUp: [2 * lc.FF, lc.C], down: [lc.C, lc.FF] };
}

/** Bytes the panels of a model of this shape take (`bytes` per weight element: 4, or 2 for 16-bit matrices), or 0
 *  when they would exceed DECODE_PANELS_BYTES and are not made. */
export function decodePanelsBytes(c: ModelConfig, bytes: number): number {
  const perLayer = Object.values(panelShapes(c)).reduce((n, [N, K]) => n + panelsLength(N, K), 0);
  const n = panelsLength(c.vocabSize, c.hiddenSize) + c.numLayers * perLayer;
  return n * bytes <= DECODE_PANELS_BYTES ? n * bytes : 0;
}

/** The model's decoding weights, or undefined when their panels would exceed DECODE_PANELS_BYTES. */
export function decodeWeights(model: Model): DecodeWeights | undefined {
  const c = model.config,
    be = model.backend,
    head = model.lmHead;
  if (decodePanelsBytes(c, isHalf(head) ? 2 : 4) === 0) return undefined;
  const shapes = panelShapes(c);
  const layers = Array.from({ length: c.numLayers }, (_, l) => {
    const w = layerWeights(model.weights, l, false);
    return {
      qkv: stacked(be, [w.wq, w.wk, w.wv], ...shapes.qkv),
      o: be.packPanels(w.wo, ...shapes.o),
      gateUp: stacked(be, [w.wGate, w.wUp], ...shapes.gateUp),
      down: be.packPanels(w.wDown, ...shapes.down),
    };
  });
  return { layers, head: be.packPanels(head, c.vocabSize, c.hiddenSize) };
}

/** Panels of matrices stacked row-wise into one (N, K) weight (16-bit if they all are, of one format; else fp32). */
function stacked(be: Backend, ws: Weight[], N: number, K: number): Panels {
  const halves = ws.filter(isHalf);
  if (halves.length === ws.length && halves.every((h) => h.dtype === halves[0].dtype))
    return be.packPanels(
      {
        dtype: halves[0].dtype,
        bits: concat(
          new Uint16Array(N * K),
          halves.map((h) => h.bits),
        ),
      },
      N,
      K,
    );
  return be.packPanels(concat(new Float32Array(N * K), ws.map(widenWeight)), N, K);
}

/** parts one after another in out. */
function concat<A extends Float32Array | Uint16Array>(out: A, parts: readonly ArrayLike<number>[]): A {
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
