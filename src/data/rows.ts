// Reads the rows of a records file as plain objects, one at a time: JSONL (one object per line), a JSON array, or
// Parquet (through hyparquet, a dependency-free pure-JS reader: no native build, no WASM; one row group in memory
// at a time, so a large file is streamed). Parquet compression: what hyparquet decodes itself (uncompressed,
// snappy — the Hub's Parquet conversions use snappy). Errors are one line naming the file (and row).
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

export interface Row {
  /** 1-based: the line of a JSONL file, the element of a JSON array, the row of a Parquet file. */
  row: number;
  value: Record<string, unknown>;
}

export type RowsFormat = "jsonl" | "json" | "parquet";

/** The format from the file's name: .parquet, .json (an array) or JSONL (anything else). */
export function rowsFormat(path: string): RowsFormat {
  if (/\.parquet$/i.test(path)) return "parquet";
  if (/\.json$/i.test(path)) return "json";
  return "jsonl";
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The rows of `path` in order (see the header). */
export async function* readRows(path: string): AsyncGenerator<Row> {
  const format = rowsFormat(path);
  if (format === "parquet") yield* parquetRows(path);
  else if (format === "json") {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(
        `${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `not JSON (${(e as Error).message})`}`,
      );
    }
    if (!Array.isArray(data)) throw new Error(`${path}: expected a JSON array of objects`);
    for (const [i, v] of data.entries()) {
      if (!isObject(v)) throw new Error(`${path}: element ${i + 1}: expected an object`);
      yield { row: i + 1, value: v };
    }
  } else {
    const stream = createReadStream(path, "utf8");
    const opened = new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", (e) =>
        reject(new Error(`${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : e.message}`)),
      );
    });
    await opened;
    let n = 0;
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      n++;
      if (line.trim() === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`${path}:${n}: not JSON (${(e as Error).message})`);
      }
      if (!isObject(v)) throw new Error(`${path}:${n}: expected a JSON object`);
      yield { row: n, value: v };
    }
  }
}

async function* parquetRows(path: string): AsyncGenerator<Row> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import("hyparquet");
  const fail = (e: unknown): never => {
    const m = e instanceof Error ? e.message : String(e);
    throw new Error(
      `${path}: ${/ENOENT/.test(m) ? "file not found" : `not a readable Parquet file (${m.split("\n")[0]})`}`,
    );
  };
  let file: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    file = await asyncBufferFromFile(path);
    metadata = await parquetMetadataAsync(file);
  } catch (e) {
    return fail(e);
  }
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = (await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end })) as Record<string, unknown>[];
    } catch (e) {
      return fail(e);
    }
    for (const [i, value] of rows.entries())
      yield { row: start + i + 1, value: toPlain(value) as Record<string, unknown> };
    start = end;
  }
}

/** Parquet values as JSON ones: bigint → number (ids), nested lists and structs kept. */
function toPlain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}
