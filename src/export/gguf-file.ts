// The GGUF v3 container, write side: magic "GGUF", version 3, tensor and key-value counts (u64), the metadata
// key-values (typed), the tensor infos (name, dims innermost first as ggml's ne[], ggml type, offset), then the
// tensor data, each tensor aligned to 32 bytes from the start of the data section. Little-endian throughout.
// It only knows the value and tensor types the exporter writes (no quantised types, no big-endian files, no reader:
// the tests carry their own independent one).
import { writeFileAtomic } from "../util/atomic.js";

/** GGUF metadata value type codes (gguf.md). */
export const GGUF_VALUE_TYPE = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** ggml tensor type codes of the two float types written here. */
export const GGML_TYPE = { F32: 0, F16: 1 } as const;
export type GgmlType = keyof typeof GGML_TYPE;

export const GGUF_ALIGNMENT = 32;

export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "i32[]"; value: ArrayLike<number> };

export type GgufKv = [key: string, value: GgufValue];

export interface GgufTensor {
  name: string;
  /** ggml's ne[]: innermost (contiguous) dimension first, i.e. a PyTorch shape reversed. */
  dims: number[];
  type: GgmlType;
  /** The raw little-endian element bytes, dims' product × element size long. */
  data: Uint8Array;
}

export const u32 = (value: number): GgufValue => ({ type: "u32", value });
export const f32 = (value: number): GgufValue => ({ type: "f32", value });
export const bool = (value: boolean): GgufValue => ({ type: "bool", value });
export const str = (value: string): GgufValue => ({ type: "string", value });

const ELEMENT_BYTES: Record<GgmlType, number> = { F32: 4, F16: 2 };

/** A growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.reserve(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number): void {
    this.reserve(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number): void {
    this.reserve(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number): void {
    this.reserve(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number): void {
    this.reserve(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  /** A GGUF string: u64 byte length, then UTF-8 bytes (no terminator). */
  string(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(n);
    this.reserve(n);
    this.length += this.buf.write(s, this.length, "utf8");
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(out: ByteSink, v: GgufValue): void {
  const T = GGUF_VALUE_TYPE;
  switch (v.type) {
    case "u32":
      out.u32(T.UINT32);
      out.u32(v.value);
      return;
    case "i32":
      out.u32(T.INT32);
      out.i32(v.value);
      return;
    case "f32":
      out.u32(T.FLOAT32);
      out.f32(v.value);
      return;
    case "bool":
      out.u32(T.BOOL);
      out.u8(v.value ? 1 : 0);
      return;
    case "string":
      out.u32(T.STRING);
      out.string(v.value);
      return;
    case "string[]":
      out.u32(T.ARRAY);
      out.u32(T.STRING);
      out.u64(v.value.length);
      for (const s of v.value) out.string(s);
      return;
    case "i32[]":
      out.u32(T.ARRAY);
      out.u32(T.INT32);
      out.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) out.i32(v.value[i]);
      return;
  }
}

const padTo = (n: number, align: number): number => Math.ceil(n / align) * align;

/** The whole file as chunks: header (padded to the alignment), then each tensor's data (each padded). */
export function ggufChunks(kvs: readonly GgufKv[], tensors: readonly GgufTensor[]): Uint8Array[] {
  const keys = new Set<string>();
  for (const [key] of kvs) {
    if (keys.has(key)) throw new Error(`gguf: duplicate metadata key ${key}`);
    keys.add(key);
  }
  const head = new ByteSink();
  head.u32(0x46554747); // "GGUF" as bytes G G U F
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kvs.length);
  for (const [key, value] of kvs) {
    head.string(key);
    writeValue(head, value);
  }
  let offset = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.byteLength !== n * ELEMENT_BYTES[t.type]) {
      throw new Error(
        `gguf: tensor ${t.name} has ${t.data.byteLength} bytes, dims [${t.dims}] of ${t.type} need ${n * ELEMENT_BYTES[t.type]}`,
      );
    }
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(offset);
    offset = padTo(offset + t.data.byteLength, GGUF_ALIGNMENT);
  }
  head.zeros(padTo(head.length, GGUF_ALIGNMENT) - head.length);
  const chunks: Uint8Array[] = [head.bytes()];
  for (const t of tensors) {
    chunks.push(t.data);
    const pad = padTo(t.data.byteLength, GGUF_ALIGNMENT) - t.data.byteLength;
    if (pad > 0) chunks.push(new Uint8Array(pad));
  }
  return chunks;
}

/** Writes a GGUF file atomically (temporary file, fsync, rename). */
export function writeGguf(path: string, kvs: readonly GgufKv[], tensors: readonly GgufTensor[]): void {
  writeFileAtomic(path, ggufChunks(kvs, tensors));
}
