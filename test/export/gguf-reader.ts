// A small GGUF v3 reader for the export tests, written from the format description (ggml's docs/gguf.md) and
// independent of src/export: header, every metadata value type, tensor infos and where the data section starts.
// Little-endian files only; it reads tensor bytes but does not interpret quantised types.
import { readFileSync } from "node:fs";

export interface GgufKvRead {
  /** GGUF value type code; for arrays, 9, with itemType the element type. */
  type: number;
  itemType?: number;
  value: unknown;
}

export interface GgufTensorRead {
  name: string;
  dims: number[];
  type: number;
  offset: number;
}

export interface GgufRead {
  magic: string;
  version: number;
  kvs: Map<string, GgufKvRead>;
  tensors: GgufTensorRead[];
  alignment: number;
  /** Byte offset of the data section (tensor offsets are relative to it). */
  dataStart: number;
  bytes: Buffer;
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    return this.buf.readUInt8(this.pos++);
  }
  i8(): number {
    return this.buf.readInt8(this.pos++);
  }
  u16(): number {
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  i16(): number {
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f32(): number {
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return Number(v);
  }
  i64(): number {
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return Number(v);
  }
  str(): string {
    const n = this.u64();
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function readScalar(c: Cursor, type: number): unknown {
  switch (type) {
    case 0:
      return c.u8();
    case 1:
      return c.i8();
    case 2:
      return c.u16();
    case 3:
      return c.i16();
    case 4:
      return c.u32();
    case 5:
      return c.i32();
    case 6:
      return c.f32();
    case 7: {
      const b = c.u8();
      if (b > 1) throw new Error(`gguf reader: bool byte ${b} at ${c.pos - 1}`);
      return b === 1;
    }
    case 8:
      return c.str();
    case 10:
      return c.u64();
    case 11:
      return c.i64();
    case 12:
      return c.f64();
    default:
      throw new Error(`gguf reader: unknown value type ${type} at ${c.pos - 4}`);
  }
}

export function readGgufFile(path: string): GgufRead {
  const bytes = readFileSync(path);
  const c = new Cursor(bytes);
  const magic = bytes.toString("latin1", 0, 4);
  c.pos = 4;
  const version = c.u32();
  const nTensors = c.u64(),
    nKv = c.u64();
  const kvs = new Map<string, GgufKvRead>();
  for (let i = 0; i < nKv; i++) {
    const key = c.str(),
      type = c.u32();
    if (kvs.has(key)) throw new Error(`gguf reader: duplicate key ${key}`);
    if (type === 9) {
      const itemType = c.u32(),
        n = c.u64();
      kvs.set(key, { type, itemType, value: Array.from({ length: n }, () => readScalar(c, itemType)) });
    } else {
      kvs.set(key, { type, value: readScalar(c, type) });
    }
  }
  const tensors: GgufTensorRead[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.str(),
      nDims = c.u32();
    const dims = Array.from({ length: nDims }, () => c.u64());
    tensors.push({ name, dims, type: c.u32(), offset: c.u64() });
  }
  const alignment = (kvs.get("general.alignment")?.value as number | undefined) ?? 32;
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  return { magic, version, kvs, tensors, alignment, dataStart, bytes };
}

const ELEMENT_BYTES: Record<number, number> = { 0: 4, 1: 2 };

/** A tensor's elements as fp32 (F32 as stored; F16 widened with the given function). */
export function tensorData(f: GgufRead, name: string, widenF16: (bits: number) => number): Float32Array {
  const t = f.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`gguf reader: no tensor ${name}`);
  const n = t.dims.reduce((a, b) => a * b, 1),
    start = f.dataStart + t.offset;
  const size = ELEMENT_BYTES[t.type];
  if (size === undefined) throw new Error(`gguf reader: tensor ${name} has type ${t.type}`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = t.type === 0 ? f.bytes.readFloatLE(start + 4 * i) : widenF16(f.bytes.readUInt16LE(start + 2 * i));
  return out;
}
