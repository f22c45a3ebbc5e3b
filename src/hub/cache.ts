// The local Hugging Face cache, in huggingface_hub's own layout, so that what transformers, vLLM or huggingface-cli
// downloaded is used as is and what sso downloads they see too:
//   CACHE/models--ORG--NAME/refs/REV            the commit sha REV (a branch or tag) points to, no newline
//   CACHE/models--ORG--NAME/snapshots/SHA/FILE  a relative symlink to ../../blobs/ETAG (one more ../ per subfolder)
//   CACHE/models--ORG--NAME/blobs/ETAG          the file; ETAG is the git blob sha1, or the sha256 for LFS files
//   CACHE/models--ORG--NAME/blobs/ETAG.incomplete  a download in progress (resumed by the next run)
// CACHE is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** A Hub repository reference: `org/name` or `org/name@rev` (a branch, tag or commit sha). */
export interface HubRef {
  repoId: string;
  revision: string;
  type: "model" | "dataset";
}

const COMMIT = /^[0-9a-f]{40}$/;
const NAME = /^[A-Za-z0-9][\w.-]*$/;

/** `org/name[@rev]` as a Hub reference, or undefined when the text is not one (a path with more parts, ./x, /x). */
export function parseHubId(text: string, type: "model" | "dataset" = "model"): HubRef | undefined {
  const at = text.indexOf("@");
  const id = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? "main" : text.slice(at + 1);
  const parts = id.split("/");
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p) && !p.includes(".."))) return undefined;
  if (revision === "" || revision.includes("..") || !/^[\w.\-/]+$/.test(revision)) return undefined;
  return { repoId: id, revision, type };
}

/** The cache folder (huggingface_hub's constants.HF_HUB_CACHE). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(home, "hub");
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a true value: the cache only, no network. */
export function hubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.HF_HUB_OFFLINE ?? env.TRANSFORMERS_OFFLINE ?? "").toUpperCase();
  return ["1", "ON", "YES", "TRUE"].includes(v);
}

/** The repository's folder in the cache: models--org--name (huggingface_hub's repo_folder_name). */
export function repoFolder(cache: string, ref: HubRef): string {
  return join(cache, [`${ref.type}s`, ...ref.repoId.split("/")].join("--"));
}

/** The commit sha a revision stands for in the cache (refs/REV), or the revision itself when it is a sha. */
export function cachedCommit(cache: string, ref: HubRef): string | undefined {
  if (COMMIT.test(ref.revision)) return ref.revision;
  const refFile = join(repoFolder(cache, ref), "refs", ref.revision);
  return existsSync(refFile) ? readFileSync(refFile, "utf8").trim() : undefined;
}

/** The snapshot folder of a revision in the cache, when its refs entry and folder exist. */
export function cachedSnapshot(cache: string, ref: HubRef): string | undefined {
  const sha = cachedCommit(cache, ref);
  if (sha === undefined) return undefined;
  const dir = join(repoFolder(cache, ref), "snapshots", sha);
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}

/**
 * The files a model (or PEFT adapter) folder needs that `dir` lacks: config.json, tokenizer.json and the
 * safetensors weights (one file, or an index and every shard it names); an adapter: adapter_model.safetensors.
 */
export function missingModelFiles(dir: string): string[] {
  const has = (f: string) => existsSync(join(dir, f));
  if (has("adapter_config.json")) return has("adapter_model.safetensors") ? [] : ["adapter_model.safetensors"];
  const missing = ["config.json", "tokenizer.json"].filter((f) => !has(f));
  if (has("model.safetensors")) return missing;
  if (!has("model.safetensors.index.json")) return [...missing, "model.safetensors"];
  const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8")) as {
    weight_map?: Record<string, string>;
  };
  const shards = [...new Set(Object.values(index.weight_map ?? {}))];
  return [...missing, ...shards.filter((f) => !has(f))];
}
