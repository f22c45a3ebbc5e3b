// Output paths are checked before any work: a command that computes for minutes and then cannot write its result
// (a missing folder, a read-only one, a folder where a file should be) should say so at once, naming the flag.
// Three rules protect what the user already has:
// - an output never is one of the command's inputs: a path that resolves (realpath, through symlinks; or the same
//   file by device and inode) to an input file, or lies inside an input folder (a model, an adapter), is refused
//   (checkOutputFile / checkOutputFolder with `inputs`: the one helper every command uses);
// - a file output goes where writeFileAtomic puts it (src/util/atomic.ts: a symlink's target, /dev/null written
//   through); sockets, block devices and folders are refused;
// - a folder output (a model folder: init-model, merge; train's OUT/model) replaces an existing folder only when
//   every entry in it is one the tool writes there (`owned`: config.json, the safetensors weights, the tokenizer
//   files…), when it is empty, or with --force; a file at a folder output is refused even with --force.
// Recognising our folders by their files (not by a marker file) keeps the folders exactly what transformers writes,
// and a folder that holds anything else — a README, a user's notes, a Hub download's .gitattributes — is safe.
import { accessSync, constants, existsSync, readdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { describeTarget, outputTarget } from "./atomic.js";

/** An input of the command: its flag and path (a file or a folder; undefined when the flag was not given). */
export interface InputPath {
  flag: string;
  path: string | undefined;
}

/** path resolved through symlinks as far as it exists (a missing tail is kept as written). */
function realish(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : resolve(realish(parent), basename(abs));
  }
}

const inside = (child: string, parent: string): boolean => {
  const rel = relative(parent, child);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
};

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a),
      y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * Refuses an output that is one of the inputs, lies inside an input folder, or (asFolder: an output folder that
 * is replaced as a whole) contains an input. One line: "FLAG PATH: is the input --data FILE; …".
 */
export function checkNotInput(flag: string, path: string, inputs: readonly InputPath[], asFolder = false): void {
  const out = realish(path);
  for (const input of inputs) {
    if (input.path === undefined || !existsSync(input.path)) continue;
    const inp = realish(input.path),
      what = `the input ${input.flag} ${input.path}`;
    if (out === inp || sameFile(out, inp)) throw new Error(`${flag} ${path}: is ${what}; write the output elsewhere`);
    if (inside(out, inp)) throw new Error(`${flag} ${path}: lies inside ${what}; write the output elsewhere`);
    if (asFolder && inside(inp, out))
      throw new Error(`${flag} ${path}: holds ${what}, which replacing it would delete; write the output elsewhere`);
  }
}

/** The parent folder of path must exist and be writable (atomic writes create a temp entry there). */
function checkParent(where: string, path: string): void {
  const parent = dirname(resolve(path));
  let st: Stats;
  try {
    st = statSync(parent);
  } catch {
    throw new Error(`${where}: the folder ${parent} does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`${where}: ${parent} is not a folder`);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(`${where}: the folder ${parent} is not writable`);
  }
}

/**
 * Checks that path can be written as a file: writeFileAtomic's target (a symlink resolved) has a writable parent
 * folder, and is not a folder, socket or block device (a terminal, /dev/null or a FIFO is written through). With
 * append (files that are extended in place, as sso generate's), an existing path must itself be writable. With
 * inputs, the output must not be one of them (checkNotInput). Throws one line: "FLAG PATH: problem".
 */
export function checkOutputFile(
  flag: string,
  path: string,
  opts: { append?: boolean; inputs?: readonly InputPath[] } = {},
): void {
  const where = `${flag} ${path}`;
  if (opts.inputs) checkNotInput(flag, path, opts.inputs);
  const target = outputTarget(path);
  if (target.kind === "refuse") throw new Error(`${where}: ${target.reason}`);
  if (target.kind === "through") return; // a device or FIFO: opened for writing as it is, no temp file beside it
  checkParent(where, target.path);
  if (opts.append && existsSync(target.path)) {
    try {
      accessSync(target.path, constants.W_OK);
    } catch {
      throw new Error(`${where}: is not writable`);
    }
  }
}

export interface FolderOutput {
  /** Whether an entry of an existing folder at path is one this tool writes there (so replacing it loses nothing). */
  owned: (name: string) => boolean;
  /** Replace an existing folder whatever it holds (--force). */
  force?: boolean;
  /** Inputs the folder must neither be, lie inside, nor contain. */
  inputs?: readonly InputPath[];
  /** What the folder is, for messages ("model folder"). */
  what: string;
  /** The command has no --force (the refusal then only says to choose another folder). */
  noForce?: boolean;
}

/** The entries of an existing folder that `owned` does not recognise (the first few). */
export function foreignEntries(dir: string, owned: (name: string) => boolean): string[] {
  return readdirSync(dir)
    .filter((n) => !owned(n))
    .sort();
}

/**
 * Checks, before any work, that a folder can be written at path and may replace what is there: nothing, an empty
 * folder, a folder of only `owned` entries (one this tool wrote), or any folder with force. A file (or anything
 * but a folder) at path is refused, as is a path whose parent cannot be created or written. One line each.
 */
export function checkOutputFolder(flag: string, path: string, o: FolderOutput): void {
  const where = `${flag} ${path}`;
  if (o.inputs) checkNotInput(flag, path, o.inputs, true);
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch {
    st = undefined;
  }
  if (st === undefined) {
    checkCreatable(where, resolve(path));
    return;
  }
  if (!st.isDirectory())
    throw new Error(`${where}: is ${describeTarget(st)}, not a folder; give a folder name (it is not replaced)`);
  checkParent(where, realish(path));
  checkReplaceable(where, path, o);
}

/**
 * The last line of defence where a folder is replaced (saveModel, writeAdapter): an existing folder at path that
 * holds entries `owned` does not recognise is refused unless force. Nothing there, or not a folder: no objection
 * here (writeDirAtomic refuses a file).
 */
export function checkReplaceable(where: string, path: string, o: Omit<FolderOutput, "inputs">): void {
  if (o.force || !existsSync(path) || !statSync(path).isDirectory()) return;
  const foreign = foreignEntries(path, o.owned);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, … (${foreign.length} in all)` : "");
    throw new Error(
      `${where}: exists and holds files that are not part of a ${o.what} (${shown}); choose another folder${o.noForce ? "" : ", or pass --force to replace it"}`,
    );
  }
}

/** A folder that does not exist yet must be creatable: its nearest existing ancestor is a writable folder. */
export function checkCreatable(where: string, abs: string): void {
  let p = dirname(abs);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  let st: Stats;
  try {
    st = statSync(p);
  } catch {
    throw new Error(`${where}: the folder ${p} cannot be read`);
  }
  if (!st.isDirectory()) throw new Error(`${where}: ${p} is a file, so no folder can be made under it`);
  try {
    accessSync(p, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(`${where}: the folder ${p} is not writable (permission denied)`);
  }
}

/** A folder a run writes into (train's OUT: OUT/model, OUT/checkpoint, metrics), with the parts it replaces. */
export interface RunFolderPart {
  name: string;
  owned: (name: string) => boolean;
  what: string;
}

/**
 * Checks a run folder before any work: absent and creatable, or a writable folder; not an input nor inside one;
 * and each part the run replaces as a whole (OUT/model) either absent or a folder of only its own files. One line
 * naming the flag and path, the reason in words (never a bare EACCES / EEXIST).
 */
export function checkRunFolder(
  flag: string,
  path: string,
  inputs: readonly InputPath[],
  parts: readonly RunFolderPart[] = [],
): void {
  const where = `${flag} ${path}`;
  checkNotInput(flag, path, inputs); // the run folder itself is never replaced, its parts are (below)
  for (const part of parts) checkNotInput(flag, join(path, part.name), inputs, true);
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    checkCreatable(where, resolve(path));
    return;
  }
  if (!st.isDirectory()) throw new Error(`${where}: is ${describeTarget(st)}, not a folder; give a folder name`);
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(`${where}: the folder is not writable (permission denied)`);
  }
  for (const part of parts) {
    const sub = resolve(path, part.name);
    if (existsSync(sub) && !statSync(sub).isDirectory())
      throw new Error(
        `${where}: ${part.name} in it is ${describeTarget(statSync(sub))}, where the run writes a folder`,
      );
    checkReplaceable(`${where}: ${part.name}`, sub, { owned: part.owned, what: part.what, noForce: true });
  }
}

/** The flags (commander's camelCase keys) that name what a command writes, and what it reads. */
const OUTPUT_FLAGS = ["out", "gguf", "html", "cache"];
const INPUT_FLAGS = [
  "model",
  "adapter",
  "data",
  "prompts",
  "answers",
  "baseline",
  "rewardModel",
  "config",
  "features",
  "tokenizerFrom",
];
const kebab = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * The output = input rule for any command, from its parsed options (the CLI runs it before every command): no
 * output flag's path is an input flag's file or lies inside an input folder. Folder outputs that replace a whole
 * folder also check that they hold no input (checkOutputFolder).
 */
export function checkOutputsNotInputs(opts: Record<string, unknown>): void {
  const inputs: InputPath[] = INPUT_FLAGS.flatMap((k) => {
    const v = opts[k];
    const paths = typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
    return paths.map((path) => ({ flag: kebab(k), path }));
  });
  for (const k of OUTPUT_FLAGS) {
    const v = opts[k];
    if (typeof v === "string") checkNotInput(kebab(k), v, inputs);
  }
}
