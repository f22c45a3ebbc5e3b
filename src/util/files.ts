// Reading a user's file with errors that name it: "PATH: cannot read (ENOENT)", "PATH: invalid JSON (…)", and a
// schema problem as "key.path: problem". The one place for these; parsing against a schema is src/sso/file.ts
// (JSON/YAML) and src/util/jsonl.ts (JSON Lines).
import { readFileSync } from "node:fs";
import type { z } from "zod";

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

/** One zod issue as "key.path: problem" (just the problem at the top level); an unknown key is named by its path. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return `${[...issue.path, issue.keys[0]].join(".")}: unknown key`;
  return issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message;
}
