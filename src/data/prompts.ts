// Prompts from the datasets people already have: JSONL, a JSON array or Parquet (rows.ts), in the common shapes —
// {"prompt"} (UltraFeedback), {"messages"} (chat datasets; trailing assistant turns are dropped, the prompt is
// the conversation up to its last user turn), {"instruction", "input"} (Alpaca), {"question"} (GSM8K), {"turns"}
// (MT-Bench: the first turn) — or a field named with FILE#FIELD; FILE[START:END] takes those rows only. FILE may be a Hub dataset id
// (datasets/ORG/NAME[@REV][:SPLIT], src/hub/dataset.ts). The result is the canonical prompts JSONL that
// `sso synth` / `sso iterate` read ({"id", "prompt"} or {"id", "messages"} per line), written once per source
// content to a cache folder (so a rerun with the same file resumes) and passed on in place of the flag's value.
// A JSONL file already in that shape (and no #FIELD) is passed on unchanged.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseDatasetId, resolveDatasetFiles } from "../hub/dataset.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readRows, rowsFormat } from "./rows.js";

type Message = { role: string; content: string };
export type PromptRecord = { id?: string | number; prompt: string } | { id?: string | number; messages: Message[] };

const AUTO = ["prompt", "messages", "instruction", "question", "turns"] as const;
const ID_KEYS = ["id", "prompt_id", "question_id"];

const isMessages = (v: unknown): v is Message[] =>
  Array.isArray(v) &&
  v.length > 0 &&
  v.every((m) => typeof m === "object" && m !== null && typeof m.role === "string" && typeof m.content === "string");

/** One row as a prompt record; `field` names the column to use (else the first of AUTO the row has). */
export function promptOf(row: Record<string, unknown>, field?: string): PromptRecord | string {
  const key = field ?? AUTO.find((k) => row[k] !== undefined && row[k] !== null);
  if (key === undefined) return `no prompt field (looked for ${AUTO.join(", ")}; name one with FILE#FIELD)`;
  const v = row[key];
  const idKey = ID_KEYS.find((k) => typeof row[k] === "string" || typeof row[k] === "number");
  const id = idKey === undefined ? {} : { id: row[idKey] as string | number };
  if (v === undefined || v === null) return `no field "${key}"`;
  if (typeof v === "string") {
    const input = key === "instruction" && typeof row.input === "string" && row.input.trim() !== "" ? row.input : "";
    return { ...id, prompt: input ? `${v}\n\n${input}` : v };
  }
  if (isMessages(v)) {
    let end = v.length;
    while (end > 0 && v[end - 1].role === "assistant") end--;
    if (end === 0) return `"${key}" has no user message`;
    return { ...id, messages: v.slice(0, end).map((m) => ({ role: m.role, content: m.content })) };
  }
  if (Array.isArray(v) && v.length > 0 && typeof v[0] === "string") return { ...id, prompt: v[0] };
  return `"${key}" is neither text, a list of {role, content} messages nor a list of turns`;
}

/** Splits FILE[[START:END]][#FIELD] (the slice in Hugging Face datasets' split syntax, e.g. train[:200]). */
export function splitField(spec: string): { path: string; field?: string; start: number; end?: number } {
  const at = spec.lastIndexOf("#");
  let path = at > 0 ? spec.slice(0, at) : spec;
  const field = at > 0 ? spec.slice(at + 1) || undefined : undefined;
  const m = /\[(\d*):(\d*)\]$/.exec(path);
  if (m === null || existsSync(path)) return { path, field, start: 0 };
  path = path.slice(0, m.index);
  return { path, field, start: m[1] ? Number(m[1]) : 0, ...(m[2] !== "" && { end: Number(m[2]) }) };
}

/** The files a spec names: a local file, or a Hub dataset id's split (src/hub/dataset.ts; may download). */
async function specFiles(path: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  if (existsSync(path) || parseDatasetId(path) === undefined) return [path];
  return resolveDatasetFiles(path, env);
}

/** The prompt records of FILE[#FIELD] or DATASET-ID[#FIELD], in order; a row without a prompt is one line naming it. */
export async function readPromptRecords(spec: string, env: NodeJS.ProcessEnv = process.env): Promise<PromptRecord[]> {
  const { path, field, start, end } = splitField(spec);
  const out: PromptRecord[] = [];
  let n = 0;
  outer: for (const file of await specFiles(path, env))
    for await (const { row, value } of readRows(file)) {
      if (end !== undefined && n >= end) break outer; // a large file is read no further than needed
      if (n++ < start) continue;
      const p = promptOf(value, field);
      if (typeof p === "string")
        throw new Error(`${file}: ${rowsFormat(file) === "jsonl" ? "line" : "row"} ${row}: ${p}`);
      out.push(p);
    }
  if (out.length === 0) throw new Error(`${path}: no prompts`);
  return out;
}

/**
 * Whether a JSONL file can be read as it is: every record has a text "prompt" or "messages" ending with a user
 * turn. A file that is not JSON, or missing, also goes on unchanged: the reader's own error names the line.
 */
async function canonicalJsonl(path: string): Promise<boolean> {
  if (!existsSync(path)) return true;
  try {
    for await (const { value: v } of readRows(path)) {
      const m = v.messages;
      const ok = typeof v.prompt === "string" || (isMessages(m) && m[m.length - 1].role === "user");
      if (!ok) return false;
    }
    return true;
  } catch {
    return true;
  }
}

/** The folder for converted prompt files: $SSO_CACHE, else $XDG_CACHE_HOME/sso, else ~/.cache/sso; then prompts/. */
export function promptsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.SSO_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "sso"), "prompts");
}

/** A prompts flag's value made into a canonical JSONL path (see the header); JSONL in canonical shape unchanged. */
export async function preparePrompts(spec: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { path, field, start, end } = splitField(spec);
  const sliced = start > 0 || end !== undefined;
  const dataset = !existsSync(path) && parseDatasetId(path) !== undefined;
  if (field === undefined && !dataset && !sliced && rowsFormat(path) === "jsonl" && (await canonicalJsonl(path)))
    return spec;
  const records = await readPromptRecords(spec, env);
  const h = createHash("sha256").update(`${field ?? ""}\0${start}:${end ?? ""}\0`);
  for (const file of await specFiles(path, env)) await pipeline(createReadStream(file), h, { end: false });
  const out = join(promptsCacheDir(env), `${h.digest("hex").slice(0, 32)}.jsonl`);
  if (!existsSync(out)) {
    mkdirSync(promptsCacheDir(env), { recursive: true });
    writeFileAtomic(out, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  }
  return out;
}

/**
 * A JSONL-only data flag's value (--data of eval, eval math, score, generate, train, rm score | eval | filter) made
 * into JSONL: a local JSONL file goes on unchanged; a Parquet or JSON-array file, a Hub dataset id or a [START:END]
 * slice is written once, row for row (no field mapping: the command reads the fields it knows), to
 * $SSO_CACHE/records/ and that path goes on.
 */
export async function prepareRecords(spec: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (existsSync(spec) && rowsFormat(spec) === "jsonl") return spec;
  const { path, field, start, end } = splitField(spec);
  const dataset = !existsSync(path) && parseDatasetId(path) !== undefined;
  if (!dataset && rowsFormat(path) === "jsonl" && start === 0 && end === undefined) return spec;
  if (field !== undefined) throw new Error(`${spec}: #FIELD applies to --prompts only`);
  const lines: string[] = [];
  let n = 0;
  const files = await specFiles(path, env);
  outer: for (const file of files)
    for await (const { value } of readRows(file)) {
      if (end !== undefined && n >= end) break outer;
      if (n++ >= start) lines.push(`${JSON.stringify(value)}\n`);
    }
  const h = createHash("sha256").update(`records\0${start}:${end ?? ""}\0`);
  for (const file of files) await pipeline(createReadStream(file), h, { end: false });
  const dir = join(promptsCacheDir(env), "..", "records");
  const out = join(dir, `${h.digest("hex").slice(0, 32)}.jsonl`);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(out, lines.join(""));
  }
  return out;
}
