// JSON Lines input with validation: every line is parsed and checked against a zod schema before any work starts,
// and the first bad line is reported as one line "FILE:LINE: key: problem". Blank lines are skipped.

import type { z } from "zod";
import { describeIssue, readText } from "./files.js";

export interface Line<T> {
  line: number; // 1-based line number in the file
  value: T;
}

/** Reads and validates every non-blank line of a JSONL file. */
export function readJsonl<S extends z.ZodType>(path: string, schema: S): Line<z.infer<S>>[] {
  const text = readText(path);
  const out: Line<z.infer<S>>[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: invalid JSON (${(e as Error).message.split("\n")[0]})`);
    }
    const r = schema.safeParse(json);
    if (!r.success) throw new Error(`${path}:${i + 1}: ${describeIssue(r.error.issues[0])}`);
    out.push({ line: i + 1, value: r.data });
  });
  return out;
}

/** Serialises records as JSONL text (one compact JSON object per line). */
export function toJsonl(records: readonly unknown[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join("");
}
