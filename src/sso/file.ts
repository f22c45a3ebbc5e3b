// Reading a user's JSON or YAML file (synthesis config, feature library) against a zod schema, with the first
// problem reported as one line "FILE: key.path: problem". YAML for names ending in .yaml/.yml, JSON otherwise.
// Not a general config system: no includes, no environment variables.

import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { describeIssue, firstLine, readText } from "../util/files.js";

/** Validates an already-parsed value; `source` names it in the error. */
export function validate<S extends z.ZodType>(value: unknown, schema: S, source: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`${source}: ${describeIssue(r.error.issues[0])}`);
  return r.data;
}

/** Reads, parses (JSON or YAML by extension) and validates a file; `what` names it in "FILE: empty WHAT". */
export function readStructuredFile<S extends z.ZodType>(path: string, schema: S, what = "file"): z.infer<S> {
  const text = readText(path);
  let value: unknown;
  const yaml = /\.ya?ml$/i.test(path);
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid ${yaml ? "YAML" : "JSON"} (${firstLine(e)})`);
  }
  // An empty YAML document (nothing, or only comments) parses to null: say so rather than "expected object".
  if (yaml && (value === null || value === undefined)) throw new Error(`${path}: empty ${what}`);
  return validate(value, schema, path);
}
