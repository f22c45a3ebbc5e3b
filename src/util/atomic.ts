// Atomic file output: write to a temporary file beside the target, fsync, then rename over it, so a crash never
// leaves a half-written file under the final name. Folders are assembled the same way (temp folder, rename).
// Append-only logs use appendDurable: the bytes are on disk when it returns, and a reader that keeps only whole
// lines (or a recorded byte length) never sees a torn record.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

/** Appends data to path (created if missing) and fsyncs it; returns the number of bytes written. */
export function appendDurable(path: string, data: string | Uint8Array): number {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const fd = openSync(path, "a");
  try {
    writeAll(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return bytes.length;
}

/** Writes data (one buffer or several chunks, in order) to path atomically. */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, "w");
  try {
    const chunks = typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Builds a folder atomically: fill(tmpDir) writes the contents into a fresh temporary sibling, which then
 * replaces dir (an existing dir is moved aside first and removed after the swap).
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = tempName(dir);
  mkdirSync(tmp);
  try {
    fill(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (existsSync(dir)) {
    const old = `${tempName(dir)}.old`;
    renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, dir);
  }
}

/** Whether a process with this id runs (another writer of the same target may be mid-write). */
function alive(pid: number): boolean {
  if (pid === process.pid) return false; // our own writes are synchronous: none is in flight while we look
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what a process killed inside writeFileAtomic / writeDirAtomic left beside path: `.NAME.PID.T.tmp` (a
 * partial new version) and `.NAME.PID.T.tmp.old` (the previous version, moved aside for the swap). Leftovers of
 * processes still running are kept. When path itself is missing because the kill fell between the two renames
 * of a swap, the newest `.old` is the last complete version and is moved back to path instead of being removed.
 * Returns the names removed or restored.
 */
export function cleanAtomicLeftovers(path: string): string[] {
  const dir = dirname(path),
    name = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const prefix = `.${name}.`;
  const leftovers = names.flatMap((n) => {
    if (!n.startsWith(prefix)) return [];
    const m = /^(\d+)\.[0-9a-z]+\.tmp(\.old)?$/.exec(n.slice(prefix.length));
    return m && !alive(Number(m[1])) ? [{ name: n, old: m[2] !== undefined }] : [];
  });
  const done: string[] = [];
  if (!existsSync(path)) {
    const olds = leftovers
      .filter((l) => l.old)
      .sort((a, b) => statSync(join(dir, b.name)).mtimeMs - statSync(join(dir, a.name)).mtimeMs);
    if (olds.length > 0) {
      renameSync(join(dir, olds[0].name), path);
      done.push(olds[0].name);
      leftovers.splice(leftovers.indexOf(olds[0]), 1);
    }
  }
  for (const l of leftovers) {
    rmSync(join(dir, l.name), { recursive: true, force: true });
    done.push(l.name);
  }
  return done;
}
