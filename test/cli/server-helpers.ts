// Helpers of the managed-server tests (iterate-server.test.ts, test/remote/iterate-swap.test.ts): whether a pid
// still runs, waiting for a condition, a run's server pid, and an error that is a run's one last line.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CliResult } from "../helpers.js";

/** A failed run whose error is one line (its last; the lines before it are progress) matching pattern. */
export function assertErrorLine(r: CliResult, pattern: RegExp): void {
  assert.ok(r.status !== 0 && r.status !== null, `expected a non-zero exit, got ${r.status ?? r.signal}: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.filter((l) => l.startsWith("sso: ")).length, 1, r.stderr);
  assert.match(lines[lines.length - 1], pattern);
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const pidOf = (dir: string) => Number(readFileSync(join(dir, "server.pid"), "utf8"));
