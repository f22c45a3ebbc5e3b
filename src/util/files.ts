// Reading a user's file with errors that name it: "PATH: cannot read (ENOENT)", "PATH: invalid JSON (…)". The one
// place for this; parsing against a schema is src/sso/file.ts (JSON/YAML) and src/util/jsonl.ts (JSON Lines).
import { readFileSync } from "node:fs";

/** The first line of an error's message (or of any thrown value). */
export const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split("\n")[0];

/** A UTF-8 file's text; a failure names the file and the error code. */
export function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? firstLine(e)})`);
  }
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
