// safetensors I/O for Hugging Face model folders: read F32/BF16/F16 tensors as fp32 (or, for the tensors a `keep16`
// predicate picks, BF16/F16 ones as their 16-bit bits, read straight into a Uint16Array: no fp32 copy ever exists),
// load a folder's single or sharded (model.safetensors.index.json) weights, write F32 or BF16 files and sharded folders that transformers
// and vLLM load. Format: u64 little-endian header length N, N bytes of JSON header, then raw tensor bytes.
// Deliberately not here: other dtypes (I64, F64, F8, ...), memory mapping or lazy loading, and knowledge of which
// tensors a model has (that is the model's parameter store). Every error is one line naming the file and tensor.
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from "node:fs";
import { endianness } from "node:os";
import { basename, join } from "node:path";
import { type Half, narrowToBf16, type Weight, widenBf16, widenF16 } from "../tensor/dtype.js";
import { writeFileAtomic } from "../util/atomic.js";

export type Dtype = "F32" | "BF16" | "F16";
/** A tensor as read: data is fp32 (widened exactly) unless kept 16-bit (a Half); dtype is what the file stored. */
export interface Tensor<D extends Weight = Float32Array> {
  shape: number[];
  data: D;
  dtype: Dtype;
}
/** Which BF16/F16 tensors to keep 16-bit (the others, and every F32 one, are read as fp32). */
export type Keep16 = (name: string, shape: readonly number[]) => boolean;
/** A tensor to write. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}
export interface WriteOptions {
  dtype: "F32" | "BF16";
  metadata?: Record<string, string>;
}

const ITEM_SIZE: Record<Dtype, number> = { F32: 4, BF16: 2, F16: 2 };
const MAX_HEADER_BYTES = 100 * 1024 * 1024; // the Rust safetensors crate's limit
const MAX_READ = 1 << 30; // readSync takes at most 2^31 − 1 bytes per call
const SINGLE_FILE = "model.safetensors";
const INDEX_FILE = "model.safetensors.index.json";

/** Throws the one-line error every failure here uses: "safetensors <file>: <what>". */
function fail(file: string, what: string): never {
  throw new Error(`safetensors ${file}: ${what}`.replace(/\s*[\r\n]+\s*/g, " "));
}

let hostChecked = false;
function checkHostLittleEndian(): void {
  if (hostChecked) return;
  if (endianness() !== "LE")
    throw new Error("safetensors: big-endian hosts are not supported (the format is little-endian)");
  hostChecked = true;
}

interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number; // byte offsets relative to the data section
  end: number;
}
interface Header {
  entries: Entry[];
  metadata: Record<string, string>;
  dataStart: number; // 8 + N
}

function readFully(fd: number, dst: Uint8Array, position: number): number {
  let done = 0;
  while (done < dst.length) {
    const n = readSync(fd, dst, done, Math.min(dst.length - done, MAX_READ), position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Reads and validates the header of an open file (dtypes, shapes, offsets against the file size, overlaps). */
function readHeader(fd: number, file: string): Header {
  const size = fstatSync(fd).size;
  if (size < 8) fail(file, `file is ${size} bytes, shorter than the 8-byte header length`);
  const lenBytes = Buffer.alloc(8);
  readFully(fd, lenBytes, 0);
  const n = lenBytes.readBigUInt64LE(0);
  if (n > BigInt(size - 8))
    fail(file, `truncated: header claims ${n} bytes, the file has ${size - 8} after the length`);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `header of ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerBytes = Buffer.alloc(Number(n));
  readFully(fd, headerBytes, 8);
  let json: unknown;
  try {
    json = JSON.parse(headerBytes.toString("utf8"));
  } catch (e) {
    fail(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) fail(file, "header is not a JSON object");
  const dataStart = 8 + Number(n);
  const entries: Entry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") metadata = parseMetadata(value, file);
    else entries.push(parseEntry(name, value, file, size - dataStart));
  }
  checkNoOverlap(entries, file);
  return { entries, metadata, dataStart };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === "string"))
    fail(file, "__metadata__ is not an object of strings");
  return value as Record<string, string>;
}

function isIndex(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function parseEntry(name: string, v: unknown, file: string, dataBytes: number): Entry {
  const t = `tensor ${JSON.stringify(name)}`;
  if (!isObject(v) || !("dtype" in v) || !("shape" in v) || !("data_offsets" in v))
    fail(file, `${t} lacks dtype, shape or data_offsets`);
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== "string" || !(dtype in ITEM_SIZE))
    fail(file, `${t} has unsupported dtype ${JSON.stringify(dtype)} (supported: F32, BF16, F16)`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) fail(file, `${t} has an invalid shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1])
    fail(file, `${t} has invalid data_offsets ${JSON.stringify(offsets)}`);
  const [begin, end] = offsets as [number, number];
  const bytes = shape.reduce((a: number, d: number) => a * d, 1) * ITEM_SIZE[dtype as Dtype];
  if (end - begin !== bytes)
    fail(
      file,
      `${t} data_offsets [${begin}, ${end}] span ${end - begin} bytes, ${dtype} shape [${shape}] needs ${bytes}`,
    );
  if (end > dataBytes) fail(file, `truncated: ${t} ends at data byte ${end}, the data section has ${dataBytes}`);
  return { name, dtype: dtype as Dtype, shape: shape as number[], begin, end };
}

function checkNoOverlap(entries: Entry[], file: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.begin < a.end) {
      const [qa, qb] = [JSON.stringify(a.name), JSON.stringify(b.name)];
      fail(file, `tensors ${qa} [${a.begin}, ${a.end}) and ${qb} [${b.begin}, ${b.end}) overlap`);
    }
  }
}

/**
 * Reads one tensor's bytes straight into its fp32 result (no zero-fill: every byte is read, or widened, below);
 * 16-bit data lands in the upper half of the result and is widened in place. With keep16, 16-bit data is read into
 * its Uint16Array and stays so.
 */
function readTensor(fd: number, file: string, e: Entry, dataStart: number, keep16: boolean): Tensor<Weight> {
  const count = (e.end - e.begin) / ITEM_SIZE[e.dtype];
  if (keep16 && e.dtype !== "F32") {
    const bits = new Uint16Array(Buffer.allocUnsafeSlow(2 * count).buffer, 0, count);
    if (readFully(fd, new Uint8Array(bits.buffer, 0, 2 * count), dataStart + e.begin) !== 2 * count)
      fail(file, `truncated while reading tensor ${JSON.stringify(e.name)}`);
    const half: Half = { dtype: e.dtype === "BF16" ? "bf16" : "f16", bits };
    return { shape: e.shape, data: half, dtype: e.dtype };
  }
  const data = new Float32Array(Buffer.allocUnsafeSlow(4 * count).buffer, 0, count);
  const raw = new Uint8Array(data.buffer, data.byteLength - (e.end - e.begin));
  if (readFully(fd, raw, dataStart + e.begin) !== raw.length)
    fail(file, `truncated while reading tensor ${JSON.stringify(e.name)}`);
  if (e.dtype !== "F32") {
    const halves = new Uint16Array(data.buffer, raw.byteOffset, count);
    (e.dtype === "BF16" ? widenBf16 : widenF16)(data, halves);
  }
  return { shape: e.shape, data, dtype: e.dtype };
}

/** Reads every tensor of a .safetensors file as fp32 (or 16-bit where keep16 says), in header order
 *  (__metadata__: see readSafetensorsMetadata). */
export function readSafetensors(path: string): Map<string, Tensor>;
export function readSafetensors(path: string, keep16: Keep16): Map<string, Tensor<Weight>>;
export function readSafetensors(path: string, keep16?: Keep16): Map<string, Tensor<Weight>> {
  checkHostLittleEndian();
  const fd = openSync(path, "r");
  try {
    const { entries, dataStart } = readHeader(fd, path);
    const out = new Map<string, Tensor<Weight>>();
    for (const e of [...entries].sort((a, b) => a.begin - b.begin))
      out.set(e.name, readTensor(fd, path, e, dataStart, keep16?.(e.name, e.shape) ?? false));
    return new Map(entries.map((e) => [e.name, out.get(e.name)!])); // header order
  } finally {
    closeSync(fd);
  }
}

/** The file's __metadata__ (string → string; {} when absent), reading only the header. */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  return withHeader(path, (h) => h.metadata);
}

function withHeader<T>(path: string, f: (h: Header) => T): T {
  const fd = openSync(path, "r");
  try {
    return f(readHeader(fd, path));
  } finally {
    closeSync(fd);
  }
}

/** Name, dtype and shape of every tensor of a model folder (model.safetensors, or the index's shards), reading only
 *  the headers. */
export function modelTensorDtypes(dir: string): { name: string; dtype: Dtype; shape: number[] }[] {
  const files = existsSync(join(dir, SINGLE_FILE))
    ? [join(dir, SINGLE_FILE)]
    : existsSync(join(dir, INDEX_FILE))
      ? [...readIndex(join(dir, INDEX_FILE)).keys()].map((shard) => join(dir, shard))
      : fail(dir, `folder has neither ${SINGLE_FILE} nor ${INDEX_FILE}`);
  return files.flatMap((f) =>
    withHeader(f, (h) => h.entries.map(({ name, dtype, shape }) => ({ name, dtype, shape }))),
  );
}

/**
 * Loads a Hugging Face model folder's weights: model.safetensors, or else the shards that
 * model.safetensors.index.json names. Every shard's header is checked against the index (each listed tensor in its
 * shard, no unlisted or duplicated tensor) before any tensor data is read.
 */
export function loadModelTensors(dir: string): Map<string, Tensor>;
export function loadModelTensors(dir: string, keep16: Keep16): Map<string, Tensor<Weight>>;
export function loadModelTensors(dir: string, keep16?: Keep16): Map<string, Tensor<Weight>> {
  const read = (path: string) => (keep16 ? readSafetensors(path, keep16) : readSafetensors(path));
  if (existsSync(join(dir, SINGLE_FILE))) return read(join(dir, SINGLE_FILE));
  const indexPath = join(dir, INDEX_FILE);
  if (!existsSync(indexPath)) fail(dir, `folder has neither ${SINGLE_FILE} nor ${INDEX_FILE}`);
  const listed = readIndex(indexPath);
  const holder = new Map<string, string>(); // tensor → the shard that holds it
  for (const shard of listed.keys()) {
    const path = join(dir, shard);
    if (!existsSync(path)) fail(indexPath, `shard ${shard} is missing from ${dir}`);
    for (const { name } of withHeader(path, (h) => h.entries)) {
      const other = holder.get(name);
      if (other !== undefined) fail(path, `duplicate tensor ${JSON.stringify(name)}: also in shard ${other}`);
      holder.set(name, shard);
    }
  }
  for (const [shard, names] of listed) {
    for (const name of names)
      if (holder.get(name) !== shard)
        fail(join(dir, shard), `tensor ${JSON.stringify(name)} listed in ${INDEX_FILE} is missing from this shard`);
  }
  for (const [name, shard] of holder)
    if (!listed.get(shard)!.has(name))
      fail(join(dir, shard), `tensor ${JSON.stringify(name)} is not listed for this shard in ${INDEX_FILE}`);
  const out = new Map<string, Tensor<Weight>>();
  for (const shard of listed.keys()) for (const [name, t] of read(join(dir, shard))) out.set(name, t);
  return out;
}

/** The index's weight_map grouped by shard: shard file → names listed for it. */
function readIndex(indexPath: string): Map<string, Set<string>> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, "utf8"));
  } catch (e) {
    fail(indexPath, `not valid JSON (${(e as Error).message})`);
  }
  const map = isObject(json) ? json.weight_map : undefined;
  if (!isObject(map)) fail(indexPath, "has no weight_map object");
  const byShard = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== "string" || shard !== basename(shard) || shard === "..")
      fail(indexPath, `tensor ${JSON.stringify(name)} maps to ${JSON.stringify(shard)}, not a file name in the folder`);
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(name);
  }
  return byShard;
}

/** Checks names, shapes and lengths, and returns the tensors sorted by name (code-unit order). */
function checkTensors(tensors: readonly NamedTensor[], file: string): NamedTensor[] {
  const seen = new Set<string>();
  for (const t of tensors) {
    const name = JSON.stringify(t.name);
    if (t.name === "" || t.name === "__metadata__") fail(file, `cannot write a tensor named ${name}`);
    if (seen.has(t.name)) fail(file, `duplicate tensor ${name}`);
    seen.add(t.name);
    if (!t.shape.every(isIndex)) fail(file, `tensor ${name} has an invalid shape [${t.shape}]`);
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length)
      fail(file, `tensor ${name} has shape [${t.shape}] (${count} elements) but ${t.data.length} values`);
  }
  return [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The header, padded with spaces so the data section starts 8-byte aligned, preceded by its u64 length. */
function encodeHeader(sorted: readonly NamedTensor[], opts: WriteOptions, file: string): Uint8Array[] {
  const meta = opts.metadata ?? {};
  if (meta.format !== undefined && meta.format !== "pt")
    fail(file, `metadata format must be "pt", got ${JSON.stringify(meta.format)}`);
  if (!Object.values(meta).every((v) => typeof v === "string")) fail(file, "metadata values must be strings");
  // Built by hand rather than with JSON.stringify(object): object keys that look like integers would be reordered.
  const parts = [`"__metadata__":${JSON.stringify({ format: "pt", ...meta })}`];
  let offset = 0;
  for (const t of sorted) {
    const bytes = t.data.length * ITEM_SIZE[opts.dtype];
    const entry = { dtype: opts.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(entry)}`);
    offset += bytes;
  }
  let json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  if (json.length % 8 !== 0) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return [len, json];
}

function tensorBytes(t: NamedTensor, dtype: WriteOptions["dtype"]): Uint8Array {
  if (dtype === "F32") return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const half = new Uint16Array(t.data.length);
  narrowToBf16(half, t.data);
  return new Uint8Array(half.buffer);
}

/** Writes tensors (sorted by name, contiguous) to one .safetensors file, atomically; metadata gains format "pt". */
export function writeSafetensors(path: string, tensors: readonly NamedTensor[], opts: WriteOptions): void {
  checkHostLittleEndian();
  const sorted = checkTensors(tensors, path);
  const chunks = encodeHeader(sorted, opts, path);
  for (const t of sorted) chunks.push(tensorBytes(t, opts.dtype));
  writeFileAtomic(path, chunks);
}

/** Shard file name as transformers writes it: model-00001-of-00003.safetensors. */
export function shardName(i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, "0");
  return `model-${pad(i)}-of-${pad(n)}.safetensors`;
}

/** Greedy packing in order: a new shard starts when the next tensor would overflow a non-empty one. */
function packShards(tensors: readonly NamedTensor[], size: (t: NamedTensor) => number, max: number): NamedTensor[][] {
  const shards: NamedTensor[][] = [[]];
  let used = 0;
  for (const t of tensors) {
    if (used > 0 && used + size(t) > max) {
      shards.push([]);
      used = 0;
    }
    shards[shards.length - 1].push(t);
    used += size(t);
  }
  return shards;
}

const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/;

/**
 * Writes a model folder's weights: one model.safetensors when their total size (in the written dtype) is at most
 * maxShardBytes, else shards packed greedily in the given order plus model.safetensors.index.json. Weight files
 * left from an earlier save are removed afterwards. Each file is atomic; for a whole-folder swap call this inside
 * writeDirAtomic.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: readonly NamedTensor[],
  opts: WriteOptions & { maxShardBytes: number },
): void {
  if (!(opts.maxShardBytes > 0)) fail(dir, `maxShardBytes must be positive, got ${opts.maxShardBytes}`);
  checkTensors(tensors, dir);
  mkdirSync(dir, { recursive: true });
  const size = (t: NamedTensor) => t.data.length * ITEM_SIZE[opts.dtype];
  const total = tensors.reduce((a, t) => a + size(t), 0);
  const written = new Set<string>();
  if (total <= opts.maxShardBytes) {
    writeSafetensors(join(dir, SINGLE_FILE), tensors, opts);
    written.add(SINGLE_FILE);
  } else {
    const shards = packShards(tensors, size, opts.maxShardBytes);
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const name = shardName(i + 1, shards.length);
      writeSafetensors(join(dir, name), shard, opts);
      written.add(name);
      for (const t of shard) weightMap[t.name] = name;
    });
    const sortedMap = Object.fromEntries(
      Object.keys(weightMap)
        .sort()
        .map((k) => [k, weightMap[k]]),
    );
    const index = { metadata: { total_size: total }, weight_map: sortedMap };
    writeFileAtomic(join(dir, INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
    written.add(INDEX_FILE);
  }
  for (const f of readdirSync(dir)) if (WEIGHT_FILE.test(f) && !written.has(f)) rmSync(join(dir, f), { force: true });
}
