// Conversions between fp32 and the 16-bit float formats stored in checkpoints, on raw bit patterns:
// bf16 → fp32 (exact, a shift), fp16 → fp32 (exact, a 65 536-entry table, subnormals/inf/NaN included) and
// fp32 → bf16 (round to nearest even, as PyTorch does; NaN stays a quiet NaN) and fp32 → fp16 (round to nearest
// even, overflow to ±inf, subnormals kept; used by the GGUF export — checkpoints are written as F32 or BF16 only).
// Also the one definition of a weight as the kernels take it: fp32, or 16-bit bits kept as the checkpoint stored them
// (`Half`, for frozen matrices: the GEMM and the embedding gather widen them exactly where they read them), and the
// panel layout a frozen matrix is repacked into for decoding (`Panels`).
// This is not a tensor library.
// The array functions assume a little-endian host (the safetensors reader/writer checks this once).

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** fp32 bits → bf16 bits, round to nearest even; a NaN keeps its sign and top payload bits and is made quiet. */
function roundToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040;
  // Non-NaN bits are at most 0xff800000, so the sum stays below 2^32 (±max rounds up to ±inf as it should).
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

/** One fp32 value → its bf16 bit pattern (0..0xffff). */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  return roundToBf16(scratchU32[0]);
}

/** One bf16 bit pattern → its (exact) value. */
export function bf16BitsToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

let f16Table: Float32Array | undefined;

/** fp16 bit pattern → fp32, every one of the 65 536 patterns, built once on first use. */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16,
      exp = (h >>> 10) & 0x1f,
      mant = h & 0x3ff;
    if (exp === 0)
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero and subnormals (exact in fp32)
    else if (exp === 31)
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN with its payload
    else bits[h] = (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
  }
  return (f16Table = table);
}

/** One fp16 bit pattern → its (exact) value. */
export function f16BitsToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff];
}

// The widening functions below walk i upwards and read src[i] before writing out[i], so src may alias the upper
// half of out's bytes (src = the last 2n bytes of out's buffer): a file's 16-bit data can be read straight into
// the fp32 result and widened in place, with no second buffer.

/** out[i] = bf16 src[i], for i < src.length. */
export function widenBf16(out: Float32Array, src: Uint16Array): void {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i] << 16;
}

/** out[i] = fp16 src[i], for i < src.length. */
export function widenF16(out: Float32Array, src: Uint16Array): void {
  const table = f16ToF32Table();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
}

/** out[i] = bf16 bits of src[i] (round to nearest even), for i < src.length. */
export function narrowToBf16(out: Uint16Array, src: Float32Array): void {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < s.length; i++) out[i] = roundToBf16(s[i]);
}

/** fp32 bits → fp16 bits, round to nearest even: subnormal halves kept, overflow to ±inf, NaN made quiet. */
function roundToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000,
    abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff); // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 (halfway past the largest half, 65504): ±inf
  if (abs >= 0x38800000) return sign | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13); // normal half: rebias 127 → 15
  // Below 2^-14 the half is subnormal, an integer multiple of 2^-24: round |x|·2^24 (exact in float64) to even.
  scratchU32[0] = abs;
  const x = scratchF32[0] * 2 ** 24,
    f = Math.floor(x),
    d = x - f;
  return sign | (d > 0.5 || (d === 0.5 && (f & 1) === 1) ? f + 1 : f);
}

/** One fp32 value → its fp16 bit pattern (0..0xffff). */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  return roundToF16(scratchU32[0]);
}

/** out[i] = fp16 bits of src[i] (round to nearest even), for i < src.length. */
export function narrowToF16(out: Uint16Array, src: Float32Array): void {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < s.length; i++) out[i] = roundToF16(s[i]);
}

/** A frozen weight kept in its checkpoint's 16-bit format: the raw bit patterns, row-major like the fp32 tensor. */
export interface Half {
  readonly dtype: "bf16" | "f16";
  readonly bits: Uint16Array;
}

/** A weight as the GEMM and the embedding gather take it. Widening a Half is exact, so a product with a Half gives
 *  the same value as with its widened fp32 twin (on the cpu backend: the same bits). Only fp32 weights train. */
export type Weight = Float32Array | Half;

export const isHalf = (w: Weight | Float64Array): w is Half => !ArrayBuffer.isView(w);

/** The number of elements of a weight. */
export const weightLength = (w: Weight): number => (isHalf(w) ? w.bits.length : w.length);

/** A weight as fp32: itself, or a new widened copy of a Half (for the `ref` oracle, saving, tests). */
export function widenWeight(w: Weight): Float32Array {
  if (!isHalf(w)) return w;
  const out = new Float32Array(w.bits.length);
  (w.dtype === "bf16" ? widenBf16 : widenF16)(out, w.bits);
  return out;
}

/** Rows of a weight per panel (native/cpu/kernels.h: kPanelWidth). */
export const PANEL_WIDTH = 64;

/**
 * A frozen (N, K) weight (torch Linear layout) repacked for products with few rows (decoding): panel p holds
 * rows p·64.. as K steps of 64 contiguous values, zero padded — data[(p·K + k)·64 + c] = W[p·64 + c][k] — so a row
 * of the product reads the weight as one stream. 16-bit weights stay 16-bit (the same bit patterns). A product from
 * the panels has the bits of one from the weight.
 */
export interface Panels {
  readonly panels: Float32Array | Uint16Array;
  readonly dtype: "f32" | "bf16" | "f16";
  readonly N: number;
  readonly K: number;
}

let panelRows = 12;

/** Products with at most this many rows read a weight's panels; with more, the weight itself (the GEMM packs it per
 *  call and is compute-bound there). Measured on 0.5B's decoding shapes with BF16 weights (2 threads, the machine
 *  busy): panels 1.4–3× the GEMM's rate at 2–6 rows (the GEMM widens and packs the whole weight per call), even at
 *  12, behind it from ~24 rows of K = 4864 (a panel no longer stays in L2 across rows). Was 2 before issue 31. */
export const panelMaxRows = (): number => panelRows;

/** Benchmarks only: sets panelMaxRows process-wide (2 reproduces decoding before issue 31; the bits are the same). */
export function setPanelMaxRows(rows: number): void {
  panelRows = rows;
}

/** Elements of the panels of an (N, K) weight. */
export const panelsLength = (N: number, K: number): number => Math.ceil(N / PANEL_WIDTH) * PANEL_WIDTH * K;

/** Zeroed panels for an (N, K) weight: the element type and format of w (a backend's packPanels fills them). */
export function emptyPanels(w: Weight, N: number, K: number): Panels {
  const n = panelsLength(N, K);
  return isHalf(w)
    ? { panels: new Uint16Array(n), dtype: w.dtype, N, K }
    : { panels: new Float32Array(n), dtype: "f32", N, K };
}
