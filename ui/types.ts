// The shapes the server's API returns (src/ui/runs.ts, src/ui/files.ts), as the client reads them.
export interface Stage {
  iteration: number;
  stage: "policy" | "generator";
  data?: string;
  metrics?: string;
  eval?: string;
  summary?: string;
}
export interface RunInfo {
  id: string;
  kind: "iterate" | "demo" | "train" | "synth" | "eval";
  status: "running" | "finished" | "failed";
  updated: number;
  where: string;
  progress: number | null;
  tokensPerSec: number | null;
  stages: Stage[];
  files: Record<string, string>;
  parent?: string;
}
export interface PageLine {
  offset: number;
  value?: Record<string, unknown>;
  error?: string;
  raw?: string;
}
export interface Page {
  lines: PageLine[];
  next: number;
  size: number;
}
export interface ServerEvent {
  type: "file" | "runs" | "warning";
  path?: string;
  size?: number;
  message?: string;
}
export type View = (root: HTMLElement, params: URLSearchParams) => Promise<((e: ServerEvent) => void) | undefined>;
