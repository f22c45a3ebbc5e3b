// The watchdog between `sso iterate` and a server it manages (managed.ts starts it as `node supervisor.js SPEC`):
// it starts the server's command with sh -c in a new session (its own process group), its output appended to the
// log file, says the server's pid on stdout ({"pid": N}), and says when the server exits ({"exit": code,
// "signal": s}). It stops the whole group — SIGTERM, then SIGKILL after the grace period — when told to (SIGTERM)
// and when its parent is gone: its stdin (a pipe from the parent) closes or its parent pid changes, which is how
// a `kill -9` of `sso iterate` still takes the server down. SIGINT and SIGHUP are ignored (a Ctrl-C reaches the
// parent, which stops the server through SIGTERM here). Not here: readiness, routes (managed.ts).
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";

interface Spec {
  command: string;
  env: Record<string, string>;
  log: string;
  graceMs: number;
  cwd?: string;
}

const spec = JSON.parse(process.argv[2]) as Spec;
const parent = process.ppid;
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const log = openSync(spec.log, "a");
const child = spawn("sh", ["-c", spec.command], {
  detached: true,
  stdio: ["ignore", log, log],
  env: { ...process.env, ...spec.env },
  cwd: spec.cwd,
});
closeSync(log);
const pgid = child.pid!;
say({ pid: pgid });

/** Whether any process of the group is left. */
function groupAlive(): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* the group is gone */
  }
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  signalGroup("SIGTERM");
  const deadline = Date.now() + spec.graceMs;
  const poll = setInterval(() => {
    if (!groupAlive()) {
      clearInterval(poll);
      process.exit(0);
    }
    if (Date.now() >= deadline) signalGroup("SIGKILL");
  }, 50);
}

child.on("exit", (code, signal) => {
  say({ exit: code, signal });
  // The shell is gone; whatever it started goes with it.
  if (!stopping) stop();
});
child.on("error", (e) => {
  say({ exit: null, signal: null, error: e.message });
  process.exit(1);
});
process.on("SIGTERM", stop);
process.on("SIGINT", () => {});
process.on("SIGHUP", () => {});
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.on("error", stop);
process.stdin.resume();
setInterval(() => process.ppid !== parent && stop(), 200).unref();
