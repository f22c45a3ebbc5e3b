// safetensors I/O: the reader against files built byte by byte from the format spec (not by our writer), exact
// fp16/bf16 widening, bf16 rounding (hand-picked bit patterns, and against PyTorch when /usr/bin/python3 has torch),
// bit-exact F32 round trips, sharded folders, and one-line errors naming the file and tensor for each corruption.
// Not here: loading real Hugging Face checkpoints (that belongs to the model loader's tests).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import {
  loadModelTensors,
  type NamedTensor,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
  writeShardedSafetensors,
} from "../../src/model/safetensors.js";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, narrowToBf16 } from "../../src/tensor/dtype.js";
import { Rng } from "../../src/tensor/rng.js";
import { tempDir } from "../helpers.js";

const root = tempDir("sso-safetensors-");
after(() => rmSync(root, { recursive: true, force: true }));
let fileCounter = 0;
/** A fresh path (or folder) under the test's temp dir. */
function tmp(name: string): string {
  return join(root, `${fileCounter++}-${name}`);
}

/** A safetensors file from a header string and data bytes, laid out by hand: u64 LE length, header, data. */
function buildFile(header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.length, true);
  view.setUint32(4, 0, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function f32le(values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  values.forEach((v, i) => new DataView(out.buffer).setFloat32(4 * i, v, true));
  return out;
}

function u16le(bits: number[]): Uint8Array {
  const out = new Uint8Array(2 * bits.length);
  bits.forEach((b, i) => new DataView(out.buffer).setUint16(2 * i, b, true));
  return out;
}

function f32FromBits(bits: number): number {
  return new Float32Array(Uint32Array.of(bits).buffer)[0];
}

function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

function writeBytes(name: string, bytes: Uint8Array): string {
  const path = tmp(name);
  writeFileSync(path, bytes);
  return path;
}

/** fn throws an Error whose message is one line containing every needle (file base names, quoted tensor names). */
function assertOneLineError(fn: () => unknown, ...needles: string[]): void {
  let message: string | undefined;
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
    message = e.message;
  }
  assert.ok(message !== undefined, `expected an error mentioning ${needles.join(", ")}`);
  assert.ok(!/[\r\n]/.test(message), `error message spans several lines: ${JSON.stringify(message)}`);
  for (const n of needles)
    assert.ok(message.includes(n), `error ${JSON.stringify(message)} lacks ${JSON.stringify(n)}`);
}

describe("reading safetensors built byte by byte from the format spec", () => {
  it("reads F32 tensors to their shapes and values, with an unaligned data section, skipping __metadata__", () => {
    // 7 + 24 bytes of header text makes the data section start at an odd offset.
    const header = JSON.stringify({
      __metadata__: { format: "pt", note: "hand-built" },
      "w.weight": { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] },
      scale: { dtype: "F32", shape: [], data_offsets: [24, 28] },
      empty: { dtype: "F32", shape: [0, 4], data_offsets: [28, 28] },
    });
    const path = writeBytes("hand.safetensors", buildFile(`${header} `, f32le([1, -2, 0.5, 3.25, -0, 1e-3, 7])));
    const t = readSafetensors(path);
    assert.deepEqual([...t.keys()], ["w.weight", "scale", "empty"]);
    assert.deepEqual(t.get("w.weight")!.shape, [2, 3]);
    assert.equal(t.get("w.weight")!.dtype, "F32");
    assert.deepEqual(Array.from(t.get("w.weight")!.data), [1, -2, 0.5, 3.25, -0, Math.fround(1e-3)]);
    assert.deepEqual(t.get("scale")!.shape, []);
    assert.deepEqual(Array.from(t.get("scale")!.data), [7]);
    assert.equal(t.get("empty")!.data.length, 0);
    assert.deepEqual(readSafetensorsMetadata(path), { format: "pt", note: "hand-built" });
  });

  it("widens BF16 exactly by a 16-bit shift", () => {
    const bits = [0x3f80, 0xc000, 0x4049, 0x0001, 0x7f80, 0xff80, 0x8000, 0x7f7f];
    const header = JSON.stringify({ x: { dtype: "BF16", shape: [2, 4], data_offsets: [0, 16] } });
    const x = readSafetensors(writeBytes("bf16.safetensors", buildFile(header, u16le(bits)))).get("x")!;
    assert.equal(x.dtype, "BF16");
    assert.deepEqual(x.shape, [2, 4]);
    assert.deepEqual(
      bitsOf(x.data),
      bits.map((b) => (b << 16) >>> 0),
    );
    assert.equal(x.data[2], 3.140625);
  });

  it("keep16 keeps the 16-bit tensors it selects as their exact bits, and reads the rest as fp32", () => {
    const bits = [0x3f80, 0xc000, 0x7fc1, 0x0001];
    const header = JSON.stringify({
      b: { dtype: "BF16", shape: [2, 2], data_offsets: [0, 8] },
      h: { dtype: "F16", shape: [2, 2], data_offsets: [8, 16] },
      v: { dtype: "BF16", shape: [4], data_offsets: [16, 24] },
      f: { dtype: "F32", shape: [1, 1], data_offsets: [24, 28] },
    });
    const data = new Uint8Array(28);
    data.set(u16le([...bits, ...bits, ...bits]));
    new DataView(data.buffer).setFloat32(24, 2.5, true);
    const t = readSafetensors(
      writeBytes("keep16.safetensors", buildFile(header, data)),
      (_, shape) => shape.length === 2,
    );
    assert.deepEqual(t.get("b")!.data, { dtype: "bf16", bits: Uint16Array.from(bits) });
    assert.deepEqual(t.get("h")!.data, { dtype: "f16", bits: Uint16Array.from(bits) });
    assert.equal(t.get("h")!.dtype, "F16");
    assert.deepEqual(
      bitsOf(t.get("v")!.data as Float32Array),
      bits.map((b) => (b << 16) >>> 0),
    );
    assert.deepEqual(t.get("f")!.data, Float32Array.of(2.5));
  });

  it("widens F16 exactly, including subnormals, infinities, -0 and NaN", () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x8000, -0],
      [0x3555, (1 + 0x155 / 1024) * 2 ** -2], // 0x3555 ≈ 1/3
    ];
    const bits = [...cases.map((c) => c[0]), 0x7e00, 0xfe01];
    const header = JSON.stringify({ h: { dtype: "F16", shape: [bits.length], data_offsets: [0, 2 * bits.length] } });
    const h = readSafetensors(writeBytes("f16.safetensors", buildFile(header, u16le(bits)))).get("h")!;
    assert.equal(h.dtype, "F16");
    assert.deepEqual(
      Array.from(h.data.subarray(0, cases.length)),
      cases.map((c) => c[1]),
    );
    assert.ok(
      Number.isNaN(h.data[cases.length]) && Number.isNaN(h.data[cases.length + 1]),
      "0x7e00 and 0xfe01 are NaN",
    );
    for (const [b, v] of cases) assert.equal(f16BitsToF32(b), v, `f16 0x${b.toString(16)}`);
  });
});

describe("fp32 → bf16 rounding", () => {
  it("converts known values: 1.0 → 0x3f80, 3.14159274 → 0x4049 (3.140625), -2 → 0xc000", () => {
    assert.equal(f32ToBf16Bits(1), 0x3f80);
    assert.equal(f32ToBf16Bits(3.14159274), 0x4049);
    assert.equal(bf16BitsToF32(0x4049), 3.140625);
    assert.equal(f32ToBf16Bits(-2), 0xc000);
    assert.equal(f32ToBf16Bits(-0), 0x8000);
  });

  it("rounds to nearest, ties to even, on hand-picked bit patterns", () => {
    const cases: [number, number][] = [
      [0x3f808000, 0x3f80], // halfway between 0x3f80 (even) and 0x3f81: down
      [0x3f818000, 0x3f82], // halfway between 0x3f81 and 0x3f82 (even): up
      [0x3f808001, 0x3f81], // just above halfway: up
      [0x3f807fff, 0x3f80], // just below halfway: down
      [0xbf818000, 0xbf82], // negative tie to even: away from zero here
      [0x00008000, 0x0000], // subnormal tie to even: 0
      [0x00018000, 0x0002], // subnormal tie to even: up
    ];
    for (const [f, b] of cases) assert.equal(f32ToBf16Bits(f32FromBits(f)), b, `0x${f.toString(16)}`);
  });

  it("overflows to infinity exactly when rounding carries past the largest bf16", () => {
    assert.equal(f32ToBf16Bits(f32FromBits(0x7f7fffff)), 0x7f80); // fp32 max → +inf
    assert.equal(f32ToBf16Bits(f32FromBits(0xff7fffff)), 0xff80); // −fp32 max → −inf
    assert.equal(f32ToBf16Bits(f32FromBits(0x7f7f8000)), 0x7f80); // tie, 0x7f7f is odd: up to inf
    assert.equal(f32ToBf16Bits(f32FromBits(0x7f7f7fff)), 0x7f7f); // below the tie: stays the largest finite bf16
    assert.equal(f32ToBf16Bits(Infinity), 0x7f80);
    assert.equal(f32ToBf16Bits(-Infinity), 0xff80);
  });

  it("keeps every NaN a quiet NaN, even payloads that naive rounding would turn into inf or -0", () => {
    for (const f of [0x7fc00000, 0x7f800001, 0x7fffffff, 0xff800001, 0xffffffff]) {
      const b = f32ToBf16Bits(f32FromBits(f));
      assert.equal(b & 0x7fc0, 0x7fc0, `0x${f.toString(16)} → 0x${b.toString(16)} is not a quiet NaN`);
      assert.ok(Number.isNaN(bf16BitsToF32(b)));
    }
  });

  it("narrows arrays exactly as the scalar conversion does", () => {
    const rng = new Rng(7);
    const src = new Float32Array(4096);
    new Uint32Array(src.buffer).forEach((_, i, a) => (a[i] = rng.nextUint32()));
    const out = new Uint16Array(src.length);
    narrowToBf16(out, src);
    const bits = new Uint32Array(src.buffer);
    for (let i = 0; i < src.length; i++) assert.equal(out[i], f32ToBf16Bits(f32FromBits(bits[i])), `element ${i}`);
  });
});

/** fp32 values whose bits are the point: -0, subnormals, extremes, infinities, a NaN with a payload. */
const SPECIAL_BITS = [
  0x80000000, 0x00000000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
  0x7fc00123, 0xffa00001, 0x3f800000,
];

function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

describe("writing safetensors", () => {
  it("round-trips F32 bit-exactly: -0, subnormals, ±inf and NaN payloads", () => {
    const path = tmp("f32.safetensors");
    const odd = new Float32Array(10).map((_, i) => i / 3).subarray(3, 8); // a view at a non-zero byteOffset
    const tensors = [
      { name: "special", shape: [3, 4], data: fromBits(SPECIAL_BITS) },
      { name: "view", shape: [5], data: odd },
    ];
    writeSafetensors(path, tensors, { dtype: "F32" });
    const t = readSafetensors(path);
    assert.deepEqual(bitsOf(t.get("special")!.data), SPECIAL_BITS);
    assert.deepEqual(t.get("special")!.shape, [3, 4]);
    assert.deepEqual(Array.from(t.get("view")!.data), Array.from(odd));
  });

  it("writes an 8-byte-aligned header, tensors in name order, contiguous offsets, format pt merged into metadata", () => {
    const path = tmp("layout.safetensors");
    const names = ["b", "a.weight", "10", "2", "a"];
    const tensors = names.map((name, i) => ({ name, shape: [i + 1], data: new Float32Array(i + 1).fill(i) }));
    writeSafetensors(path, tensors, { dtype: "BF16", metadata: { step: "3" } });
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0, "header length is a multiple of 8");
    const text = bytes.subarray(8, 8 + n).toString("utf8");
    assert.match(text, /^\{.*\} *$/);
    const header = JSON.parse(text);
    assert.deepEqual(header.__metadata__, { format: "pt", step: "3" });
    const keyOrder = [...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    assert.deepEqual(keyOrder, ["10", "2", "a", "a.weight", "b"]);
    let offset = 0;
    for (const k of keyOrder) {
      const e = header[k];
      assert.equal(e.dtype, "BF16");
      assert.deepEqual(e.data_offsets, [offset, offset + 2 * e.shape[0]]);
      offset = e.data_offsets[1];
    }
    assert.equal(bytes.length, 8 + n + offset, "no bytes after the last tensor");
    assert.deepEqual(readSafetensorsMetadata(path), { format: "pt", step: "3" });
    for (let len = 1; len <= 8; len++) {
      const p = tmp("pad.safetensors");
      writeSafetensors(p, [{ name: "n".repeat(len), shape: [1], data: new Float32Array(1) }], { dtype: "F32" });
      assert.equal(readFileSync(p).readBigUInt64LE(0) % 8n, 0n, `header with a ${len}-character name is padded`);
    }
  });

  it("writes BF16 that reads back as each value rounded to nearest even", () => {
    const path = tmp("bf16.safetensors");
    const data = new Rng(3).normalArray(1000, 10);
    writeSafetensors(path, [{ name: "x", shape: [10, 100], data }], { dtype: "BF16" });
    const x = readSafetensors(path).get("x")!;
    assert.equal(x.dtype, "BF16");
    for (let i = 0; i < data.length; i++)
      assert.equal(x.data[i], bf16BitsToF32(f32ToBf16Bits(data[i])), `element ${i}`);
  });

  it("refuses tensors whose shape does not match their length, and duplicate names", () => {
    const path = tmp("bad-write.safetensors");
    const bad = { name: "w", shape: [2, 3], data: new Float32Array(5) };
    assertOneLineError(() => writeSafetensors(path, [bad], { dtype: "F32" }), basename(path), '"w"');
    const t = { name: "w", shape: [1], data: new Float32Array(1) };
    assertOneLineError(() => writeSafetensors(path, [t, t], { dtype: "F32" }), basename(path), '"w"', "duplicate");
    assert.ok(!existsSync(path));
  });
});

/** Tensors of assorted sizes, in model order, with distinct values. */
function sampleTensors(): NamedTensor[] {
  const rng = new Rng(11);
  const shapes: [string, number[]][] = [
    ["model.embed_tokens.weight", [16, 8]],
    ["model.layers.0.self_attn.q_proj.weight", [8, 8]],
    ["model.layers.0.self_attn.q_proj.bias", [8]],
    ["model.layers.1.mlp.down_proj.weight", [8, 24]],
    ["model.norm.weight", [8]],
    ["lm_head.weight", [16, 8]],
  ];
  return shapes.map(([name, shape]) => ({ name, shape, data: rng.normalArray(shape.reduce((a, b) => a * b, 1)) }));
}

describe("model folders", () => {
  it("writes shards and an index past maxShardBytes, and loads the same tensors back", () => {
    const dir = tmp("sharded");
    const tensors = sampleTensors();
    writeShardedSafetensors(dir, tensors, { dtype: "F32", maxShardBytes: 1024 });
    const files = readdirSync(dir).sort();
    const shards = files.filter((f) => f.endsWith(".safetensors"));
    assert.ok(shards.length >= 3, `expected several shards, got ${files}`);
    const pad = (k: number) => String(k).padStart(5, "0");
    shards.forEach((f, i) => assert.equal(f, `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`));
    assert.deepEqual(files, [...shards, "model.safetensors.index.json"].sort());
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    assert.deepEqual(Object.keys(index), ["metadata", "weight_map"]);
    assert.deepEqual(index.metadata, { total_size: tensors.reduce((a, t) => a + 4 * t.data.length, 0) });
    assert.deepEqual(Object.keys(index.weight_map).sort(), tensors.map((t) => t.name).sort());
    for (const shard of shards) {
      const held = [...readSafetensors(join(dir, shard)).keys()].sort();
      assert.deepEqual(
        held,
        Object.keys(index.weight_map)
          .filter((k) => index.weight_map[k] === shard)
          .sort(),
      );
    }
    const loaded = loadModelTensors(dir);
    assert.equal(loaded.size, tensors.length);
    for (const t of tensors) {
      assert.deepEqual(loaded.get(t.name)!.shape, t.shape);
      assert.deepEqual(bitsOf(loaded.get(t.name)!.data), bitsOf(t.data), t.name);
    }
  });

  it("writes one model.safetensors when the total fits, removing weight files of an earlier sharded save", () => {
    const dir = tmp("single");
    const tensors = sampleTensors();
    writeShardedSafetensors(dir, tensors, { dtype: "F32", maxShardBytes: 1024 });
    writeFileSync(join(dir, "config.json"), "{}");
    writeShardedSafetensors(dir, tensors, { dtype: "BF16", maxShardBytes: 1 << 20 });
    assert.deepEqual(readdirSync(dir).sort(), ["config.json", "model.safetensors"]);
    const loaded = loadModelTensors(dir);
    for (const t of tensors) assert.equal(loaded.get(t.name)!.data[3], bf16BitsToF32(f32ToBf16Bits(t.data[3])));
  });
});

describe("corrupt files and folders give one-line errors naming the file and tensor", () => {
  const validHeader = JSON.stringify({ "w.q": { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } });
  const valid = () => buildFile(validHeader, f32le([1, 2, 3, 4]));
  const entry = (name: string, dtype: string, shape: number[], begin: number, end: number) =>
    JSON.stringify({ [name]: { dtype, shape, data_offsets: [begin, end] } });
  const headerCases: [string, string, string[]][] = [
    ["bad JSON", '{"w.q": {"dtype": "F32",', ["JSON"]],
    ["a header that is not an object", "[1, 2]", ["object"]],
    [
      "a tensor without data_offsets",
      JSON.stringify({ "w.q": { dtype: "F32", shape: [4] } }),
      ['"w.q"', "data_offsets"],
    ],
    ["dtype I64", entry("w.ids", "I64", [2], 0, 16), ['"w.ids"', "I64"]],
    ["dtype F64", entry("w.d", "F64", [2], 0, 16), ['"w.d"', "F64"]],
    ["offsets not matching shape × itemsize", entry("w.q", "BF16", [2, 2], 0, 16), ['"w.q"', "8"]],
    ["offsets past the end of the file", entry("w.q", "F32", [8], 0, 32), ['"w.q"', "truncated"]],
    [
      "overlapping tensors",
      JSON.stringify({
        "w.a": { dtype: "F32", shape: [3], data_offsets: [0, 12] },
        "w.b": { dtype: "F32", shape: [2], data_offsets: [8, 16] },
      }),
      ['"w.a"', '"w.b"', "overlap"],
    ],
  ];
  for (const [what, header, needles] of headerCases) {
    it(`reports ${what}`, () => {
      const path = writeBytes("corrupt.safetensors", buildFile(header, f32le([1, 2, 3, 4])));
      assertOneLineError(() => readSafetensors(path), basename(path), ...needles);
    });
  }

  it("reports a file shorter than 8 bytes", () => {
    const path = writeBytes("tiny.safetensors", Uint8Array.of(1, 2, 3, 4, 5));
    assertOneLineError(() => readSafetensors(path), basename(path), "8");
  });

  it("reports a header length beyond the file as truncated", () => {
    const bytes = valid();
    new DataView(bytes.buffer).setUint32(0, 1000, true);
    const path = writeBytes("long-header.safetensors", bytes);
    assertOneLineError(() => readSafetensors(path), basename(path), "truncated");
    assertOneLineError(() => readSafetensorsMetadata(path), basename(path), "truncated");
    new DataView(bytes.buffer).setUint32(4, 0xffffffff, true); // a u64 far beyond any file
    const huge = writeBytes("huge-header.safetensors", bytes);
    assertOneLineError(() => readSafetensors(huge), basename(huge), "truncated");
  });

  it("reports a valid file cut short by a few bytes as truncated, naming the tensor", () => {
    const bytes = valid();
    assert.equal(readSafetensors(writeBytes("whole.safetensors", bytes)).get("w.q")!.data[3], 4);
    const path = writeBytes("cut.safetensors", bytes.subarray(0, bytes.length - 3));
    assertOneLineError(() => readSafetensors(path), basename(path), '"w.q"', "truncated");
    assertOneLineError(() => readSafetensorsMetadata(path), basename(path), '"w.q"', "truncated"); // header-only read
  });

  it("reports a folder with neither model.safetensors nor an index", () => {
    const dir = tmp("empty-model");
    mkdirSync(dir);
    assertOneLineError(() => loadModelTensors(dir), basename(dir), "model.safetensors");
  });

  /** A sharded folder written by us, then damaged by edit(dir, index). */
  function damagedFolder(edit: (dir: string, index: { weight_map: Record<string, string> }) => void): string {
    const dir = tmp("damaged");
    writeShardedSafetensors(dir, sampleTensors(), { dtype: "F32", maxShardBytes: 1024 });
    const indexPath = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(readFileSync(indexPath, "utf8"));
    edit(dir, index);
    writeFileSync(indexPath, JSON.stringify(index, null, 2));
    return dir;
  }
  const shard = (i: number, dir: string) => readdirSync(dir).filter((f) => f.endsWith(".safetensors"))[i - 1];

  it("reports a missing shard by name", () => {
    let missing = "";
    const dir = damagedFolder((d) => rmSync(join(d, (missing = shard(2, d)))));
    assertOneLineError(() => loadModelTensors(dir), missing, "missing");
  });

  it("reports a tensor listed in the index but absent from its shard", () => {
    let where = "";
    const dir = damagedFolder((d, index) => (index.weight_map["model.extra.weight"] = where = shard(1, d)));
    assertOneLineError(() => loadModelTensors(dir), where, '"model.extra.weight"');
  });

  it("reports a tensor a shard holds but the index does not list", () => {
    let where = "";
    const dir = damagedFolder((_d, index) => {
      where = index.weight_map["model.norm.weight"]; // shares its shard with down_proj
      delete index.weight_map["model.norm.weight"];
    });
    assertOneLineError(() => loadModelTensors(dir), where, `"model.norm.weight"`, "not listed");
  });

  it("reports a tensor held by two shards as a duplicate", () => {
    let dup = "";
    const dir = damagedFolder((d) => {
      const first = readSafetensors(join(d, shard(1, d)));
      const [name, t] = [...first][0];
      dup = name;
      const second = [...readSafetensors(join(d, shard(2, d)))].map(([n, s]) => ({
        name: n,
        shape: s.shape,
        data: s.data,
      }));
      writeSafetensors(join(d, shard(2, d)), [...second, { name, shape: t.shape, data: t.data }], { dtype: "F32" });
    });
    assertOneLineError(() => loadModelTensors(dir), "duplicate", JSON.stringify(dup), shard(2, dir));
  });
});

// PyTorch is optional: Debian's python3-torch may be absent, and the suite must pass without it.
const PYTORCH_CHECK = `
import json, struct, sys
try:
    import torch
except Exception as e:
    print("torch unavailable: %s" % e); sys.exit(77)
def load(path):
    with open(path, "rb") as f: b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n])
    s, e = h["x"]["data_offsets"]
    return h, bytearray(b[8 + n + s:8 + n + e])
_, raw32 = load(sys.argv[1])
h16, raw16 = load(sys.argv[2])
assert h16["x"]["dtype"] == "BF16" and h16["__metadata__"]["format"] == "pt"
x = torch.frombuffer(raw32, dtype=torch.float32)
ours = torch.frombuffer(raw16, dtype=torch.bfloat16)
theirs = x.to(torch.bfloat16)
nan = torch.isnan(theirs)
diff = ((ours.view(torch.int16) != theirs.view(torch.int16)) & ~nan).nonzero().flatten().tolist()
nan_mismatch = int((torch.isnan(ours) != nan).sum())
print(json.dumps({"n": x.numel(), "nan": int(nan.sum()), "nanMismatch": nan_mismatch, "diff": diff[:5]}))
`;

describe("bf16 rounding against PyTorch", () => {
  it("writes BF16 bit-identical to torch's fp32 → bfloat16 (NaN as NaN)", (t) => {
    const rng = new Rng(2024);
    const bits = [...SPECIAL_BITS, 0x3f808000, 0x3f818000, 0x7f7f8000, 0x7f7f7fff, 0x00008000, 0x00018000];
    for (let i = 0; i < 20000; i++) bits.push(rng.nextUint32()); // every exponent, ~0.4 % NaN
    for (let i = 0; i < 2000; i++) bits.push(((rng.nextUint32() & 0xffff0000) | 0x8000) >>> 0); // exact ties
    const data = fromBits(bits);
    const [p32, p16] = [tmp("torch-f32.safetensors"), tmp("torch-bf16.safetensors")];
    writeSafetensors(p32, [{ name: "x", shape: [data.length], data }], { dtype: "F32" });
    writeSafetensors(p16, [{ name: "x", shape: [data.length], data }], { dtype: "BF16" });
    const r = spawnSync("/usr/bin/python3", ["-c", PYTORCH_CHECK, p32, p16], { encoding: "utf8", timeout: 30000 });
    if (r.error || r.status === 77) {
      t.skip(`no /usr/bin/python3 with torch: ${r.error?.message ?? r.stdout.trim()}`);
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(res.n, bits.length);
    assert.ok(res.nan > 0, "the sample includes NaNs");
    assert.equal(res.nanMismatch, 0, "NaN positions agree");
    assert.deepEqual(
      res.diff,
      [],
      `first differing elements: ${res.diff.map((i: number) => `0x${bits[i].toString(16)}`)}`,
    );
  });
});
