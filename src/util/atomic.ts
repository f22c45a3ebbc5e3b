// Atomic file output: write to a temporary file beside the target, fsync, then rename over it, so a crash never
// leaves a half-written file under the final name. Folders are assembled the same way (temp folder, rename).
// Append-only logs use appendDurable: the bytes are on disk when it returns, and a reader that keeps only whole
// lines (or a recorded byte length) never sees a torn record.
// What is at the target decides how it is written (outputTarget), so a rename never replaces something that is
// not a regular file:
// - nothing, or a regular file: replaced atomically as above;
// - a symlink: resolved (the whole chain, a dangling one to where it points) and its target written atomically, so
//   the link stays and what it points to is updated — as a shell's `>` would, and never a stale target;
// - a character device (/dev/null, a terminal, /dev/stdout) or a FIFO: written through (opened and written, no
//   temp file, no rename; a FIFO waits for its reader as `echo > fifo` does);
// - a folder, a socket or a block device: refused, one line naming the path.
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** How an output path is written: replaced atomically at path, written through as it is, or refused (why). */
export type OutputTarget =
  | { kind: "replace"; path: string }
  | { kind: "through"; path: string }
  | { kind: "refuse"; reason: string };

/** What a non-regular file is, in words. */
export function describeTarget(st: Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isSocket()) return "a socket";
  if (st.isBlockDevice()) return "a block device";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isFIFO()) return "a FIFO";
  return "a file";
}

/** Where a symlink chain ends (at most 40 links, as the kernel allows); path itself when it is not a symlink. */
function followLinks(path: string): string {
  let p = resolve(path);
  for (let i = 0; i < 40; i++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return p; // missing: a dangling link's end, or nothing at all
    }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new Error(`${path}: too many levels of symbolic links`);
}

/** How writeFileAtomic writes path (see the header). */
export function outputTarget(path: string): OutputTarget {
  let st: Stats;
  try {
    st = statSync(path); // follows symlinks, also /dev/stdout's link to a pipe or terminal
  } catch {
    return { kind: "replace", path: followLinks(path) }; // nothing there (or a dangling link): create its end
  }
  if (st.isFile()) return { kind: "replace", path: realpathSync(path) };
  if (st.isCharacterDevice() || st.isFIFO()) return { kind: "through", path };
  return { kind: "refuse", reason: `is ${describeTarget(st)}; give a file name` };
}

/** Writes chunks to a device or FIFO as it is (no temp file, no rename). */
function writeThrough(path: string, chunks: readonly Uint8Array[]): void {
  const fd = openSync(path, "w");
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

/** fsync, where the file can be synced: a terminal, pipe or /dev/null answers EINVAL, which means nothing to do. */
export function syncFd(fd: number): void {
  try {
    fsyncSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
  }
}

/** Appends data to path (created if missing) and fsyncs it; returns the number of bytes written. */
export function appendDurable(path: string, data: string | Uint8Array): number {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const fd = openSync(path, "a");
  try {
    writeAll(fd, bytes);
    syncFd(fd);
  } finally {
    closeSync(fd);
  }
  return bytes.length;
}

/**
 * Writes data (one buffer or several chunks, in order) to path atomically — or, for a device or FIFO, through;
 * a symlink's target is written (see the header). Errors name the path.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const chunks = typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  const target = outputTarget(path);
  if (target.kind === "refuse") throw new Error(`${path}: ${target.reason}`);
  if (target.kind === "through") {
    try {
      writeThrough(target.path, chunks);
    } catch (e) {
      throw new Error(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return;
  }
  replaceFile(target.path, chunks);
}

function replaceFile(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, "w");
  try {
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
export function writeDirAtomic(path: string, fill: (tmpDir: string) => void): void {
  // A symlink to a folder is resolved (the folder it points to is replaced, the link kept); a file is never replaced.
  const dir = existsSync(path) ? realpathSync(path) : followLinks(path);
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new Error(`${path}: is ${describeTarget(statSync(dir))}, not a folder; it is not replaced`);
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
