// The runs `sso ui` shows, found by walking the runs root for what our commands write — never a format of our own:
//   iterate  a folder with run.json (`sso iterate`, each method of `sso demo`): OUT/iter-k[/generator]/data.jsonl
//            (+ .progress.json, .summary.json), iter-k/train/metrics.jsonl, iter-k/summary.json, iter-k/eval.json,
//            OUT/summary.json when the loop is done;
//   demo     a folder with demo.json or rm-summary.json (`sso demo`, `sso rm demo`), whose method folders are
//            iterate runs of their own;
//   train    a folder with metrics.jsonl outside an iterate run (`sso train`, `sso rm train`): model/ when done;
//   synth    FILE.jsonl next to FILE.jsonl.progress.json outside an iterate run (`sso synth`): phase "done" when done;
//   eval     a JSON report of `sso eval pairwise | grade | math` ({"mode": …}).
// Status: finished (the writer's own "done" mark), running (written to in the last two minutes), failed (neither:
// crashed or stopped). Model, checkpoint and adapter folders are not walked. Deliberately not here: reading
// records and metrics (files.ts pages them), HTTP (server.ts).
import { closeSync, existsSync, openSync, readdirSync, readSync, type Stats, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { RunInfo, RunStatus, Stage } from "./api.js";
import { readSmallJson, relUnder } from "./files.js";

export type { RunInfo, RunKind, RunStatus, Stage } from "./api.js";

const SKIP = new Set(["model", "checkpoint", "adapter", "aligned-model", "node_modules", ".git"]);
export const STALE_MS = 120_000;
const MAX_ENTRIES = 50_000;

const mtime = (p: string): number => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
};

/** The first `n` bytes of a file (cheap type sniffing). */
function head(path: string, n: number): string {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0)).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** The last complete JSON line of a file (read from its tail only). */
export function lastJsonLine(path: string): Record<string, unknown> | null {
  const size = statSync(path).size,
    n = Math.min(size, 64 * 1024);
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    const lines = buf.toString("utf8").split("\n");
    lines.pop(); // after the last newline: empty, or a line being written
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        return JSON.parse(lines[i]) as Record<string, unknown>;
      } catch {}
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

const safeJson = (path: string): Record<string, unknown> | null => {
  try {
    return readSmallJson(path) as Record<string, unknown>;
  } catch {
    return null;
  }
};

/** Every run under `root` (a real path), parents before their children, in path order. */
export function discoverRuns(root: string, now = Date.now()): RunInfo[] {
  const runs: RunInfo[] = [];
  let seen = 0;
  const walk = (dir: string, depth: number, insideIterate: boolean, parent?: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      return;
    }
    seen += entries.length;
    if (seen > MAX_ENTRIES) return;
    const names = new Set(entries.map((e) => e.name));
    let here: RunInfo | undefined;
    if (names.has("run.json")) here = iterateRun(root, dir, now, parent);
    else if (names.has("demo.json") || names.has("rm-summary.json")) here = demoRun(root, dir, names);
    else if (names.has("metrics.jsonl") && !insideIterate) here = trainRun(root, dir, now, parent);
    if (here) runs.push(here);
    for (const e of entries) {
      if (!e.isFile() || insideIterate || here?.kind === "iterate") continue;
      const p = join(dir, e.name);
      if (e.name.endsWith(".jsonl") && names.has(`${e.name}.progress.json`)) runs.push(synthRun(root, p, now));
      else if (e.name.endsWith(".json") && !e.name.endsWith(".progress.json") && !e.name.endsWith(".summary.json")) {
        const m = /^\s*\{\s*"mode"\s*:\s*"(pairwise|grade|math)"/.exec(head(p, 64));
        if (m) runs.push(evalRun(root, p, m[1]));
      }
    }
    if (depth >= 8) return;
    for (const e of entries)
      if (e.isDirectory() && !SKIP.has(e.name) && !e.name.startsWith("."))
        walk(join(dir, e.name), depth + 1, insideIterate || here?.kind === "iterate", here?.id ?? parent);
  };
  walk(root, 0, false);
  return runs;
}

const statusOf = (finished: boolean, updated: number, now: number): RunStatus =>
  finished ? "finished" : now - updated < STALE_MS ? "running" : "failed";

function stageOf(root: string, dir: string, iteration: number, stage: Stage["stage"]): Stage {
  const rel = (p: string) => (existsSync(p) ? relUnder(root, p) : undefined);
  return {
    iteration,
    stage,
    data: rel(join(dir, "data.jsonl")),
    metrics: rel(join(dir, "train", "metrics.jsonl")),
    eval: rel(join(dir, "eval.json")),
    summary: rel(join(dir, "summary.json")),
  };
}

function iterateRun(root: string, dir: string, now: number, parent?: string): RunInfo {
  const run = safeJson(join(dir, "run.json")),
    config = (run?.config ?? {}) as {
      iterate?: { iterations?: number; mode?: string };
      train?: { batchSize?: number; epochs?: number };
    };
  const total = config.iterate?.iterations ?? 0,
    v2 = config.iterate?.mode === "v2";
  const stages: Stage[] = [];
  for (let k = 1; existsSync(join(dir, `iter-${k}`)); k++) {
    if (v2 && existsSync(join(dir, `iter-${k}`, "generator")))
      stages.push(stageOf(root, join(dir, `iter-${k}`, "generator"), k, "generator"));
    stages.push(stageOf(root, join(dir, `iter-${k}`), k, "policy"));
  }
  const files: Record<string, string> = {};
  if (existsSync(join(dir, "summary.json"))) files.summary = relUnder(root, join(dir, "summary.json"));
  if (existsSync(join(dir, "eval-initial.json"))) files.evalInitial = relUnder(root, join(dir, "eval-initial.json"));
  const paths = [join(dir, "run.json"), join(dir, "summary.json")];
  for (const s of stages)
    for (const f of [s.data, s.metrics, s.summary, s.data && `${s.data}.progress.json`])
      if (f) paths.push(join(root, f));
  const updated = Math.max(...paths.map(mtime));
  const summary = files.summary ? safeJson(join(dir, "summary.json")) : null;
  const finished = Array.isArray(summary?.iterations) && (summary.iterations as unknown[]).length >= total;
  // Where the loop is: the last stage with files, and inside it synthesis or training.
  const last = stages[stages.length - 1];
  let where = stages.length === 0 ? "starting" : "",
    progress: number | null = null,
    tokensPerSec: number | null = null;
  if (last) {
    const it = `iteration ${last.iteration}/${total}${last.stage === "generator" ? " (generator)" : ""}`;
    const doneIters = stages.filter((s) => s.summary && s.stage === "policy").length;
    let inStage = 0;
    const m = last.metrics ? lastJsonLine(join(root, last.metrics)) : null;
    tokensPerSec = typeof m?.["tokens/s"] === "number" ? (m["tokens/s"] as number) : null;
    if (last.summary) where = `${it} · done`;
    else if (last.metrics) {
      const step = typeof m?.step === "number" ? m.step : 0;
      const steps = totalSteps(root, last, config.train);
      where = `${it} · train step ${step}${steps ? `/${steps}` : ""}`;
      inStage = steps ? 0.5 + (0.5 * step) / steps : 0.5;
    } else if (last.data) {
      const p = safeJson(join(root, `${last.data}.progress.json`)),
        next = typeof p?.next_index === "number" ? p.next_index : 0;
      where = `${it} · synthesis, ${next} prompts done`;
      inStage = 0;
    } else where = `${it} · starting`;
    if (total > 0) progress = finished ? 1 : Math.min(1, (doneIters + (last.summary ? 0 : inStage)) / total);
  }
  return {
    id: relUnder(root, dir) || ".",
    kind: "iterate",
    status: statusOf(finished, updated, now),
    updated,
    where: finished ? `${total} iteration${total === 1 ? "" : "s"} done` : where,
    progress,
    tokensPerSec,
    stages,
    files,
    parent,
  };
}

/** A training stage's step count: the checkpoint's, else ⌈kept records / batch⌉ × epochs. */
function totalSteps(root: string, s: Stage, train?: { batchSize?: number; epochs?: number }): number | null {
  const state = safeJson(join(root, dirname(s.metrics!), "checkpoint", "trainer_state.json"));
  if (typeof state?.totalSteps === "number") return state.totalSteps;
  const sum = s.data ? safeJson(join(root, `${s.data}.summary.json`)) : null;
  if (typeof sum?.kept === "number" && train?.batchSize)
    return Math.ceil(sum.kept / train.batchSize) * (train.epochs ?? 1);
  return null;
}

function demoRun(root: string, dir: string, names: Set<string>): RunInfo {
  const file = names.has("demo.json") ? "demo.json" : "rm-summary.json";
  const updated = mtime(join(dir, file));
  return {
    id: relUnder(root, dir) || ".",
    kind: "demo",
    status: "finished",
    updated, // the result file is written last: it exists only when the demo is done
    where: file === "demo.json" ? "demo done" : "rm demo done",
    progress: 1,
    tokensPerSec: null,
    stages: [],
    files: { [file === "demo.json" ? "demo" : "rmSummary"]: relUnder(root, join(dir, file)) },
  };
}

function trainRun(root: string, dir: string, now: number, parent?: string): RunInfo {
  const metrics = join(dir, "metrics.jsonl"),
    updated = mtime(metrics);
  const finished = existsSync(join(dir, "model", "config.json")) || existsSync(join(dir, "adapter"));
  const m = lastJsonLine(metrics);
  const state = safeJson(join(dir, "checkpoint", "trainer_state.json"));
  const step = typeof m?.step === "number" ? m.step : 0,
    total = typeof state?.totalSteps === "number" ? state.totalSteps : null;
  return {
    id: relUnder(root, dir) || ".",
    kind: "train",
    status: statusOf(finished, updated, now),
    updated,
    where: `step ${step}${total ? `/${total}` : ""}`,
    progress: finished ? 1 : total ? step / total : null,
    tokensPerSec: typeof m?.["tokens/s"] === "number" ? (m["tokens/s"] as number) : null,
    stages: [{ iteration: 1, stage: "policy", metrics: relUnder(root, metrics) }],
    files: {},
    parent,
  };
}

function synthRun(root: string, file: string, now: number): RunInfo {
  const p = safeJson(`${file}.progress.json`),
    updated = Math.max(mtime(file), mtime(`${file}.progress.json`));
  const finished = p?.phase === "done";
  return {
    id: relUnder(root, file),
    kind: "synth",
    status: statusOf(finished, updated, now),
    updated,
    where: `synthesis, ${typeof p?.next_index === "number" ? p.next_index : 0} prompts done`,
    progress: finished ? 1 : null,
    tokensPerSec: null,
    stages: [{ iteration: 1, stage: "policy", data: relUnder(root, file) }],
    files: {},
  };
}

function evalRun(root: string, file: string, mode: string): RunInfo {
  const st: Stats = statSync(file);
  return {
    id: relUnder(root, file),
    kind: "eval",
    status: "finished",
    updated: st.mtimeMs,
    where: `${mode} report (${basename(file)})`,
    progress: 1,
    tokensPerSec: null,
    stages: [],
    files: { report: relUnder(root, file) },
  };
}
