// The KV cache of batched generation: per layer, keys and values of S slots × L positions (post-RoPE), laid out
// (S, L, NKV, HS) as the decode-attention kernel reads them, plus each slot's filled length. Active sequences
// always occupy slots 0..active-1; when one finishes, the last active slot is moved into its place.
import type { ModelConfig } from "../model/config.js";

export class KvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** Tokens stored per slot. */
  readonly lens: Int32Array;
  private readonly rowFloats: number; // NKV·HS

  constructor(
    config: ModelConfig,
    readonly slots: number,
    readonly capacity: number,
  ) {
    this.rowFloats = config.numKvHeads * config.headDim;
    const n = slots * capacity * this.rowFloats;
    this.k = Array.from({ length: config.numLayers }, () => new Float32Array(n));
    this.v = Array.from({ length: config.numLayers }, () => new Float32Array(n));
    this.lens = new Int32Array(slots);
  }

  /** Writes rows of k/v (NKV·HS floats each) at the given slot and position, for one layer. */
  store(layer: number, k: Float32Array, v: Float32Array, row: number, slot: number, pos: number): void {
    if (pos >= this.capacity) throw new Error(`KV cache: position ${pos} exceeds capacity ${this.capacity}`);
    const r = this.rowFloats,
      dst = (slot * this.capacity + pos) * r;
    this.k[layer].set(k.subarray(row * r, (row + 1) * r), dst);
    this.v[layer].set(v.subarray(row * r, (row + 1) * r), dst);
  }

  /** Moves slot `from` into slot `to` (its filled rows only), in every layer. */
  move(from: number, to: number): void {
    if (from === to) return;
    const span = this.capacity * this.rowFloats,
      n = this.lens[from] * this.rowFloats;
    for (const buf of [...this.k, ...this.v]) buf.copyWithin(to * span, from * span, from * span + n);
    this.lens[to] = this.lens[from];
    this.lens[from] = 0;
  }
}
