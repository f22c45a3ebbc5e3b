// Hub dataset ids for the prompts flags: `datasets/ORG/NAME[@REV][:SPLIT]` (SPLIT defaults to train; it may be
// CONFIG/SPLIT). A split's files are the repository's .parquet / .jsonl / .json files whose name starts with
// `SPLIT-` or `SPLIT.`, or that sit in a folder named SPLIT (the Hub's layouts: data/train_prefs-00000-of-00001.parquet,
// CONFIG/train/0000.parquet), under CONFIG/ when given. Resolved like models (resolve.ts): the local HF cache first
// (datasets--ORG--NAME), used as is; else, unless HF_HUB_OFFLINE=1, only that split's files downloaded into it.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cachedSnapshot, hubCacheDir, hubOffline, parseHubId } from "./cache.js";
import { downloadRepo, hubClient } from "./download.js";

export interface DatasetSpec {
  id: string;
  split: string;
}

/** `datasets/ORG/NAME[@REV][:SPLIT]` parsed, or undefined when the text is not a dataset id. */
export function parseDatasetId(text: string): DatasetSpec | undefined {
  const m = /^datasets\/([^:]+)(?::([\w.\-/]+))?$/.exec(text);
  if (!m || parseHubId(m[1], "dataset") === undefined) return undefined;
  return { id: m[1], split: m[2] ?? "train" };
}

/** Whether a repository file belongs to the split (see the header). */
export function inSplit(file: string, split: string): boolean {
  if (!/\.(parquet|jsonl|json)$/.test(file)) return false;
  const slash = split.lastIndexOf("/");
  const config = slash < 0 ? undefined : split.slice(0, slash);
  const name = split.slice(slash + 1);
  const parts = file.split("/");
  if (config !== undefined && parts[0] !== config) return false;
  const base = parts[parts.length - 1];
  return base.startsWith(`${name}-`) || base.startsWith(`${name}.`) || parts.slice(0, -1).includes(name);
}

function listFiles(dir: string, base = ""): string[] {
  return readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, join(base, e.name)) : [join(base, e.name)],
  );
}

/** The local files of a dataset id's split, in name order (may download; see the header). */
export async function resolveDatasetFiles(text: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const spec = parseDatasetId(text);
  if (spec === undefined) throw new Error(`${text}: not a dataset id (datasets/ORG/NAME[@REV][:SPLIT])`);
  const ref = parseHubId(spec.id, "dataset")!;
  const cache = hubCacheDir(env);
  const local = (dir: string) =>
    listFiles(dir)
      .filter((f) => inSplit(f, spec.split))
      .sort()
      .map((f) => join(dir, f));
  const snap = cachedSnapshot(cache, ref);
  const cached = snap === undefined ? [] : local(snap);
  if (cached.length > 0) return cached;
  if (hubOffline(env))
    throw new Error(
      snap === undefined
        ? `${text}: not in the Hugging Face cache ${cache} (HF_HUB_OFFLINE is set)`
        : `${text}: no files of split "${spec.split}" in the cached snapshot ${snap} (HF_HUB_OFFLINE is set)`,
    );
  const dir = await downloadRepo(cache, ref, hubClient(env), (f) => inSplit(f, spec.split));
  return local(dir);
}
