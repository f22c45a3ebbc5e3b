// The shapes of what `sso ui`'s HTTP API returns, in one place for both sides: the server (runs.ts, files.ts,
// events.ts) builds them and the browser client (ui/types.ts re-exports them) reads them. Types only, no imports:
// the client's compiler has no Node types, and the bundle gets nothing from this file.

export type RunKind = "iterate" | "demo" | "train" | "synth" | "eval";
export type RunStatus = "running" | "finished" | "failed";

/** One stage's files (an iteration's policy stage, or its v2 generator stage), paths relative to the root. */
export interface Stage {
  iteration: number;
  stage: "policy" | "generator";
  data?: string;
  metrics?: string;
  eval?: string;
  summary?: string;
}

/** GET /api/runs: one per run found under the root. */
export interface RunInfo {
  id: string;
  kind: RunKind;
  status: RunStatus;
  /** Last write anywhere in the run (ms since the epoch). */
  updated: number;
  /** "iteration 2/3 · train step 5/8", … */
  where: string;
  /** Share done in [0, 1] where the writer says how much there is. */
  progress: number | null;
  /** Last tokens/s the trainer logged. */
  tokensPerSec: number | null;
  stages: Stage[];
  /** Other files the views read: demo.json, summary.json, eval reports. */
  files: Record<string, string>;
  parent?: string;
}

/** One line of a JSONL page: its byte offset and its value, or why it is not JSON. */
export interface PageLine {
  offset: number;
  /** The parsed line (an object in every file the UI reads; another JSON value would pass through as it is). */
  value?: Record<string, unknown>;
  /** "not JSON: …" for a malformed line; `raw` holds its first 200 characters. */
  error?: string;
  raw?: string;
}

/** GET /api/file (JSONL) and /api/records. */
export interface Page {
  lines: PageLine[];
  /** Where the next page starts (the end of the last complete line read). */
  next: number;
  /** The file's size when read; next < size with fewer lines than asked means a line is still being written. */
  size: number;
}

/** One server-sent event of GET /api/events. */
export interface ServerEvent {
  type: "file" | "runs" | "warning";
  path?: string;
  size?: number;
  message?: string;
}
