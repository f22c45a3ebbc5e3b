// The records view's server side: a page of synthesis records (src/sso/record.ts, one per JSONL line) from a byte
// offset, filtered while it is read (text, feature, W₀, y+ length), each with W₀ — the SSO weight the trainer
// computes at its first step, when the policy is still the reference (src/sso/objective.ts's `weight` over the
// record's reference log-probs). And the compare view's join of two record files by prompt id, through an index of
// id → byte offset built by paging once per file version. Deliberately not here: paging itself (files.ts).
import { statSync } from "node:fs";
import { weight } from "../sso/objective.js";
import { type Page, type PageLine, readJsonlPage } from "./files.js";

export interface RecordFilter {
  q?: string;
  feature?: string;
  wmin?: number;
  wmax?: number;
  /** Bounds on y+'s token count. */
  lenmin?: number;
  lenmax?: number;
}

type Rec = Record<string, unknown>;
const content = (turns: unknown): string =>
  Array.isArray(turns) ? turns.map((t) => String((t as { content?: unknown })?.content ?? "")).join("\n") : "";
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** W₀ of a record, or undefined when it lacks the plain-prompt reference log-probs. */
export function w0(r: Rec, alpha: number): number | undefined {
  const c = num(r.ref_chosen_logps),
    rj = num(r.ref_rejected_logps),
    nc = num(r.chosen_n_tokens),
    nr = num(r.rejected_n_tokens);
  if (c === undefined || rj === undefined || !nc || !nr) return undefined;
  return weight({ policy: c, ref: c, n: nc }, { policy: rj, ref: rj, n: nr }, alpha);
}

/** Whether a line passes the filter; a malformed line passes only an empty filter (so it is shown, as such). */
export function matches(line: PageLine, f: RecordFilter, alpha: number): boolean {
  const empty = !f.q && !f.feature && f.wmin === undefined && f.wmax === undefined && !f.lenmin && !f.lenmax;
  if (line.value === undefined || typeof line.value !== "object" || line.value === null) return empty;
  const r = line.value as Rec;
  if (f.feature && !(Array.isArray(r.features) && r.features.includes(f.feature))) return false;
  if (f.wmin !== undefined || f.wmax !== undefined) {
    const w = w0(r, alpha);
    if (w === undefined || w < (f.wmin ?? -Infinity) || w > (f.wmax ?? Infinity)) return false;
  }
  const n = num(r.chosen_n_tokens) ?? 0;
  if ((f.lenmin && n < f.lenmin) || (f.lenmax && n > f.lenmax)) return false;
  if (f.q) {
    const text = [
      r.id,
      content(r.prompt),
      content(r.chosen),
      content(r.rejected),
      content(r.raw),
      r.system_pos,
      r.system_neg,
    ]
      .join("\n")
      .toLowerCase();
    if (!text.includes(f.q.toLowerCase())) return false;
  }
  return true;
}

/** A page of records passing `f` from `offset`, each with `w0` added where it can be computed. */
export function recordsPage(path: string, offset: number, limit: number, f: RecordFilter, alpha: number): Page {
  const page = readJsonlPage(path, offset, limit, 16 << 20, (l) => matches(l, f, alpha));
  for (const l of page.lines)
    if (l.value && typeof l.value === "object") (l.value as Rec).w0 = w0(l.value as Rec, alpha) ?? null;
  return page;
}

interface IdIndex {
  size: number;
  mtimeMs: number;
  offsets: Map<string, number>;
}
const indexes = new Map<string, IdIndex>();

/** id → byte offset of every record in a file; rebuilt when the file changes (kept for the last 4 files). */
export function idIndex(path: string): Map<string, number> {
  const st = statSync(path),
    have = indexes.get(path);
  if (have && have.size === st.size && have.mtimeMs === st.mtimeMs) return have.offsets;
  const offsets = new Map<string, number>();
  for (let at = 0; ; ) {
    const page = readJsonlPage(path, at, 10_000);
    for (const l of page.lines) {
      const id = (l.value as Rec | undefined)?.id;
      if (typeof id === "string" && !offsets.has(id)) offsets.set(id, l.offset);
    }
    if (page.next === at) break;
    at = page.next;
  }
  indexes.delete(path);
  indexes.set(path, { size: st.size, mtimeMs: st.mtimeMs, offsets });
  while (indexes.size > 4) indexes.delete(indexes.keys().next().value as string);
  return offsets;
}

/** The record at a byte offset (one line). */
export const recordAt = (path: string, offset: number): unknown =>
  readJsonlPage(path, offset, 1, 1).lines[0]?.value ?? null;
