// Output paths are checked before any work: a command that computes for minutes and then cannot write its result
// (a missing folder, a read-only one, a folder where a file should be) should say so at once, naming the flag.
import { accessSync, constants, type Stats, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * Checks that path can be written as a file: its parent folder exists and is writable (atomic writes create a temp
 * file there and rename it over path), and path is not a folder. With append (files that are extended in place, as
 * sso generate's), an existing path must itself be writable. Throws one line: "FLAG PATH: problem".
 */
export function checkOutputFile(flag: string, path: string, opts: { append?: boolean } = {}): void {
  const parent = dirname(resolve(path));
  const where = `${flag} ${path}`;
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
  let self: Stats;
  try {
    self = statSync(path);
  } catch {
    return; // not there yet: fine
  }
  if (self.isDirectory()) throw new Error(`${where}: is a folder; give a file name`);
  if (opts.append) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new Error(`${where}: is not writable`);
    }
  }
}
