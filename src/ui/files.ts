// `sso ui`'s only way to the disk: a path from a request resolved under the runs root (absolute paths, "..",
// NUL bytes and symlinks that lead outside are refused), and reads that never load a large file whole — a page of
// JSONL lines from a byte offset, and a JSON file under a size cap. A line that is not JSON is returned as such
// (its offset and the start of its text), and a last line without its newline (a writer mid-append) is not
// returned: the next page starts there. Deliberately not here: what the files mean (runs.ts, records.ts).
import { closeSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import type { Page, PageLine } from "./api.js";

export class UiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The real path of `rel` under `root` (itself a real path); 403 when it is outside, 404 when missing. */
export function resolveUnder(root: string, rel: string): string {
  if (rel === "" || rel.includes("\0") || isAbsolute(rel) || rel.split(/[\\/]/).includes(".."))
    throw new UiError(403, `${JSON.stringify(rel)}: not a path inside the runs folder`);
  let real: string;
  try {
    real = realpathSync(join(root, rel));
  } catch {
    throw new UiError(404, `${rel}: no such file under the runs folder`);
  }
  if (!isInside(root, real)) throw new UiError(403, `${rel}: leads outside the runs folder`);
  return real;
}

export const isInside = (root: string, path: string): boolean => {
  const r = relative(root, path);
  return r === "" || (!r.startsWith(`..${sep}`) && r !== ".." && !isAbsolute(r));
};

export const relUnder = (root: string, path: string): string => relative(root, path).split(sep).join("/");

/** One line of a JSONL page: its byte offset and 1-based number when counted from 0, and the value or the error. */
export type { Page, PageLine } from "./api.js";

const CHUNK = 1 << 20;

/**
 * Complete lines from byte `offset` (which must be a line start): at most `limit` lines that `keep` accepts,
 * reading at most `maxBytes` (at least one line, however long). Memory is one chunk plus one line.
 */
export function readJsonlPage(
  path: string,
  offset: number,
  limit: number,
  maxBytes = 8 * CHUNK,
  keep: (line: PageLine) => boolean = () => true,
): Page {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    const lines: PageLine[] = [];
    let pos = Math.min(Math.max(0, offset), size),
      carry = Buffer.alloc(0),
      carryAt = pos;
    const buf = Buffer.alloc(CHUNK);
    while (pos < size && lines.length < limit && (carryAt - offset < maxBytes || lines.length === 0)) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
      if (n === 0) break;
      pos += n;
      let data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1 && lines.length < limit; nl = data.indexOf(10, start)) {
        const at = carryAt + start,
          text = data.subarray(start, nl).toString("utf8");
        start = nl + 1;
        if (text.trim() === "") continue;
        const line = parseLine(text, at);
        if (keep(line)) lines.push(line);
        if (carryAt + start - offset >= maxBytes) break;
      }
      carryAt += start;
      data = data.subarray(start);
      carry = Buffer.from(data);
      if (lines.length >= limit || carryAt - offset >= maxBytes) break;
    }
    return { lines, next: carryAt, size };
  } finally {
    closeSync(fd);
  }
}

function parseLine(text: string, offset: number): PageLine {
  try {
    return { offset, value: JSON.parse(text) };
  } catch (e) {
    return { offset, error: `not JSON: ${(e as Error).message}`, raw: text.slice(0, 200) };
  }
}

/** A JSON file of at most `maxBytes` (summaries, run.json, reports); a larger one is refused, not read. */
export function readSmallJson(path: string, maxBytes = 32 << 20): unknown {
  const size = statSync(path).size;
  if (size > maxBytes) throw new UiError(413, `${path}: ${size} bytes, more than the ${maxBytes} this view reads`);
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    return JSON.parse(buf.toString("utf8"));
  } catch (e) {
    throw new UiError(422, `${path}: not JSON (${(e as Error).message.split("\n")[0]}); is it still being written?`);
  } finally {
    closeSync(fd);
  }
}
