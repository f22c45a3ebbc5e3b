// Locates the installed `sso` package folder (the one holding package.json), wherever the compiled file runs from.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`sso: cannot find package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return (cached = dir);
}
