// Turns what a user names as a model or adapter into a local folder. In order: a local folder of that path; a
// Hub id (`org/name` or `org/name@rev`) found complete in the local Hugging Face cache (cache.ts), used as is with
// no network; else, unless HF_HUB_OFFLINE=1, the missing files downloaded into that cache (download.ts).
// Anything else is returned unchanged, so the loader's own "file not found" error names it.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { cachedSnapshot, hubCacheDir, hubOffline, missingModelFiles, parseHubId } from "./cache.js";
import { downloadRepo, hubClient, wantedFile } from "./download.js";

/** What the caller will read from the folder (see resolveModel). */
export type Need = "model" | "config" | "tokenizer";

/**
 * The local folder for a model / adapter path or Hub id (may download; see the header). `need: "config"` asks
 * for config.json alone (sso info's memory estimate), so a cached config is enough and only it is downloaded;
 * `need: "tokenizer"` for the tokenizer, generation and config files without the weights (init-model's
 * --tokenizer-from).
 */
export async function resolveModel(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  need: Need = "model",
): Promise<string> {
  if (existsSync(text) && statSync(text).isDirectory()) return text;
  const ref = parseHubId(text);
  if (ref === undefined) return text;
  const cache = hubCacheDir(env);
  const snap = cachedSnapshot(cache, ref);
  const lacks = (dir: string) => {
    if (need === "model") return missingModelFiles(dir);
    const f = need === "config" ? "config.json" : "tokenizer.json";
    return existsSync(join(dir, f)) ? [] : [f];
  };
  const missing = snap === undefined ? undefined : lacks(snap);
  if (snap !== undefined && missing!.length === 0) return snap;
  if (hubOffline(env)) {
    if (snap === undefined)
      throw new Error(`${text}: not a local folder and not in the Hugging Face cache ${cache} (HF_HUB_OFFLINE is set)`);
    throw new Error(`${text}: ${missing![0]} is not in the cached snapshot ${snap} (HF_HUB_OFFLINE is set)`);
  }
  const want =
    need === "config"
      ? (f: string) => f === "config.json"
      : need === "tokenizer"
        ? (f: string) => wantedFile(f, "model") && !f.endsWith(".safetensors") && !f.endsWith(".safetensors.index.json")
        : undefined;
  const dir = await downloadRepo(cache, ref, hubClient(env), want);
  const still = lacks(dir);
  if (still.length > 0) throw new Error(`${text}: the repository has no ${still[0]}`);
  return dir;
}
