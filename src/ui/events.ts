// Live updates for `sso ui`: while at least one page listens, the run files are polled (stat, every `intervalMs`)
// and each change becomes a server-sent event — {"type":"file","path","size"} when a run's file grew or was
// replaced, {"type":"runs"} when the list of runs or their status changed. Polling, not fs.watch: it sees appends
// through any filesystem (network mounts, containers), costs a stat per file, and needs no recursive watch support.
// Deliberately not here: what a page does with an event (the client refetches from its last offset).
import { statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import type { ServerEvent } from "./api.js";
import { discoverRuns, type RunInfo } from "./runs.js";

export class RunWatcher {
  private readonly clients = new Set<ServerResponse>();
  private readonly seen = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private runsKey = "";
  private ticks = 0;

  constructor(
    private readonly root: string,
    private readonly intervalMs = 500,
  ) {}

  /** Starts an event stream on `res`; it ends when the client goes or `close` is called. */
  attach(res: ServerResponse): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.write("retry: 1000\n\n");
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (!this.timer) {
      this.scan(true);
      this.timer = setInterval(() => this.scan(false), this.intervalMs);
    }
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private send(event: ServerEvent): void {
    const text = `data: ${JSON.stringify(event)}\n\n`;
    for (const c of this.clients) c.write(text);
  }

  private runs: RunInfo[] = [];

  private scan(first: boolean): void {
    try {
      // The run list every fourth tick (it walks the folder); the known files' sizes every tick.
      // A comment line every 40 ticks (20 s) keeps idle connections open through proxies.
      if (this.ticks % 40 === 39) for (const c of this.clients) c.write(": ping\n\n");
      if (first || this.ticks++ % 4 === 0) {
        this.runs = discoverRuns(this.root);
        const key = JSON.stringify(this.runs.map((r) => [r.id, r.status, r.where, r.stages.length]));
        if (key !== this.runsKey && !first) this.send({ type: "runs" });
        this.runsKey = key;
      }
      for (const r of this.runs)
        for (const p of [
          ...r.stages.flatMap((s) => [s.data, s.metrics, s.eval, s.summary]),
          ...Object.values(r.files),
        ]) {
          if (!p) continue;
          let sig: string;
          let size = 0;
          try {
            const st = statSync(join(this.root, p));
            size = st.size;
            sig = `${st.size}:${st.mtimeMs}:${st.ino}`;
          } catch {
            sig = "missing";
          }
          const was = this.seen.get(p);
          this.seen.set(p, sig);
          if (!first && was !== undefined && was !== sig) this.send({ type: "file", path: p, size });
        }
    } catch (e) {
      // A run folder changing under the walk: skip this tick, never take the server down.
      this.send({ type: "warning", message: String((e as Error).message ?? e) });
    }
  }
}
