// A server that `sso iterate` starts and stops itself (vLLM, SGLang, `sso serve`): the launch command runs under a
// watchdog (supervisor.ts) in its own process group with its output in a log file; `ready` polls the health route
// (connection refused, 503 and timeouts mean "not yet"; the process exiting means failed, with the log's last
// lines in the one-line error); `stop` takes the whole group down (SIGTERM, grace, SIGKILL). No server outlives
// this process: a normal exit, an error, a signal or a SIGKILL closes the watchdog's pipe, and while this process
// waits for a server, SIGINT/SIGTERM handlers stop every server before exiting (stopServersOnSignals). Not here: what is served (which model,
// swaps, the probe: src/sso/iterate-server.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ManagedOptions {
  command: string;
  env: Record<string, string>;
  /** The server's stdout and stderr (appended). */
  log: string;
  /** Milliseconds between SIGTERM and SIGKILL of the group. */
  graceMs: number;
}

interface Exit {
  code: number | null;
  signal: string | null;
}

const live = new Set<ManagedServer>();

const onSignal = (sig: "SIGINT" | "SIGTERM") => () => {
  console.error(`sso: ${sig}: stopping ${live.size} server(s)`);
  Promise.allSettled([...live].map((s) => s.stop())).then(() => process.exit(sig === "SIGINT" ? 130 : 143));
};
const handlers = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") };

/**
 * While on, SIGINT / SIGTERM stop every managed server and then exit (130 / 143). The caller turns it on only
 * while it waits for asynchronous work: a handler cannot run while synchronous work (training in this process)
 * blocks the event loop, and without one the signal ends the process at once — its servers then go down through
 * their watchdogs.
 */
export function stopServersOnSignals(on: boolean): void {
  for (const [sig, h] of Object.entries(handlers)) {
    process.removeListener(sig, h);
    if (on) process.on(sig, h);
  }
}

/** A free TCP port on host (the kernel's pick; released before the server binds it). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class ManagedServer {
  /** The server's process group (its shell's pid). */
  pid = 0;
  private exit: Exit | null = null;
  private readonly exited: Promise<Exit>;
  private readonly supervisorGone: Promise<void>;

  private constructor(
    private readonly supervisor: ChildProcess,
    readonly log: string,
  ) {
    let onExit: (e: Exit) => void = () => {};
    this.exited = new Promise((r) => (onExit = r));
    let buf = "";
    supervisor.stdout!.on("data", (d) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const msg = JSON.parse(buf.slice(0, i)) as { pid?: number; exit?: number | null; signal?: string | null };
        buf = buf.slice(i + 1);
        if (msg.pid !== undefined) this.pid = msg.pid;
        if ("exit" in msg) {
          this.exit = { code: msg.exit ?? null, signal: msg.signal ?? null };
          onExit(this.exit);
        }
      }
    });
    this.supervisorGone = new Promise((r) => supervisor.on("exit", () => r()));
    this.supervisorGone.then(() => {
      live.delete(this);
      onExit(this.exit ?? { code: null, signal: "supervisor gone" });
    });
  }

  /** Starts the command under the watchdog; resolves once the server's pid is known. */
  static async start(opts: ManagedOptions): Promise<ManagedServer> {
    const here = dirname(fileURLToPath(import.meta.url));
    const sup = spawn(
      process.execPath,
      [join(here, "supervisor.js"), JSON.stringify({ ...opts, cwd: process.cwd() })],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const s = new ManagedServer(sup, opts.log);
    live.add(s);
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (s.pid) {
          clearInterval(t);
          resolve();
        } else if (sup.exitCode !== null) {
          clearInterval(t);
          reject(new Error(`the server's watchdog exited (${sup.exitCode}) before starting ${opts.command}`));
        }
      }, 10);
    });
    return s;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** The last n lines of the server's log, joined with " | " (for one-line errors). */
  logTail(n = 3): string {
    if (!existsSync(this.log)) return "";
    const lines = readFileSync(this.log, "utf8").trimEnd().split("\n").filter(Boolean);
    return lines.slice(-n).join(" | ");
  }

  /**
   * Polls GET root+path until it answers 200. Refused connections, 503 (and other statuses) and slow answers
   * mean not yet; the server exiting or timeoutMs passing is an error naming the log and its last lines.
   */
  async ready(root: string, path: string, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer yet";
    for (;;) {
      if (!this.running) {
        const e = this.exit!;
        throw new Error(
          `${what}: the server exited during start-up (${e.signal ? `signal ${e.signal}` : `exit code ${e.code}`}); ${this.log}: ${this.logTail() || "(empty)"}`,
        );
      }
      try {
        const res = await fetch(`${root}${path}`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `GET ${path}: HTTP ${res.status}`;
      } catch (e) {
        last = `GET ${path}: ${(e as Error).cause ? ((e as Error).cause as Error).message : (e as Error).message}`;
      }
      if (Date.now() >= deadline)
        throw new Error(
          `${what}: the server was not ready within ${timeoutMs / 1000} s (${last}); ${this.log}: ${this.logTail() || "(empty)"}`,
        );
      await Promise.race([new Promise((r) => setTimeout(r, 250)), this.exited]);
    }
  }

  /** Stops the whole process group (SIGTERM, the grace period, SIGKILL) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.supervisor.exitCode === null && this.supervisor.signalCode === null) this.supervisor.kill("SIGTERM");
    await this.supervisorGone;
  }
}
