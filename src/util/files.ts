// Reading a user's file with errors that name it: "PATH: cannot read (ENOENT)", "PATH: invalid JSON (…)", and a
// schema problem as "key.path: problem". The one place for these; parsing against a schema is src/sso/file.ts
// (JSON/YAML) and src/util/jsonl.ts (JSON Lines). Text is strict UTF-8: bytes that are not UTF-8 are an error
// naming FILE:LINE (never silently replaced by U+FFFD), and a UTF-8 byte-order mark at the start is dropped.
import { readFileSync } from "node:fs";
import type { z } from "zod";

/** The first line of an error's message (or of any thrown value). */
export const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split("\n")[0];

/** A UTF-8 file's text (without a leading byte-order mark); a failure names the file and the error code, bytes
 *  that are not UTF-8 the file and line. */
export function readText(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? firstLine(e)})`);
  }
  return decodeUtf8(bytes, path);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true }); // ignoreBOM false: a leading BOM is dropped

/** bytes as UTF-8 text, a leading BOM dropped; invalid bytes are an error "SOURCE:LINE: not valid UTF-8 (…)". */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Find the line: 0x0A never occurs inside a multi-byte sequence, so lines decode independently.
    let start = 0;
    for (let line = 1; ; line++) {
      const nl = bytes.indexOf(0x0a, start),
        end = nl < 0 ? bytes.length : nl;
      const chunk = bytes.subarray(start, end);
      try {
        strictUtf8.decode(chunk);
      } catch {
        const at = firstInvalid(chunk);
        throw new Error(
          `${source}:${line}: not valid UTF-8 (byte 0x${chunk[at].toString(16).padStart(2, "0")} at byte ${at + 1} of the line); save the file as UTF-8`,
        );
      }
      if (nl < 0) throw new Error(`${source}: not valid UTF-8`); // unreachable: some line failed above
      start = nl + 1;
    }
  }
}

/** The offset of the first byte in chunk that starts no valid UTF-8 sequence (chunk is known to be invalid). */
function firstInvalid(chunk: Uint8Array): number {
  for (let i = 0; i < chunk.length; i++) {
    for (let n = 1; n <= 4 && i + n <= chunk.length; n++) {
      try {
        strictUtf8.decode(chunk.subarray(i, i + n));
        i += n - 1;
        break;
      } catch {
        if (n === 4 || i + n === chunk.length) return i;
      }
    }
  }
  return chunk.length - 1;
}

/** A JSON file, parsed; errors name the file. */
export function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${firstLine(e)})`);
  }
}

/** One zod issue as "key.path: problem" (just the problem at the top level); an unknown key is named by its path. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return `${[...issue.path, issue.keys[0]].join(".")}: unknown key`;
  return issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message;
}
