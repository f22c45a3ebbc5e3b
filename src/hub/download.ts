// Downloads a Hub repository's model files into the local cache in huggingface_hub's layout (cache.ts), over the
// routes huggingface_hub itself uses: GET ENDPOINT/api/models/ID/revision/REV?blobs=true (the commit sha, the files,
// their sizes and hashes) and GET ENDPOINT/ID/resolve/SHA/FILE (the bytes; X-Linked-Etag / ETag name the blob).
// Only the files a model needs; never .bin/.pt. Each file goes to blobs/ETAG.incomplete first (a rerun after a
// kill continues it with a Range request), is checked against the Hub's hash (sha256 for LFS files, the git blob
// sha1 otherwise), then renamed into place and linked from snapshots/SHA/. HF_TOKEN is sent as a bearer token and
// never printed; HF_ENDPOINT replaces https://huggingface.co.
import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { writeFileAtomic } from "../util/atomic.js";
import { progress } from "../util/progress.js";
import { type HubRef, repoFolder } from "./cache.js";

/** Which of a repository's files a model or adapter needs, or a dataset could (dataset.ts narrows to a split). */
export function wantedFile(name: string, type: HubRef["type"]): boolean {
  if (type === "dataset") return name.endsWith(".parquet") || name.endsWith(".jsonl") || name.endsWith(".json");
  if (name.includes("/")) return false;
  return (
    /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|adapter_config|preprocessor_config)\.json$/.test(
      name,
    ) ||
    ["vocab.json", "merges.txt", "chat_template.jinja", "tokenizer.model"].includes(name) ||
    name.endsWith(".safetensors") ||
    name === "model.safetensors.index.json"
  );
}

interface Sibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { sha256?: string; oid?: string; size?: number };
}

export interface HubClient {
  endpoint: string;
  token?: string;
  /** Seconds without a byte (or a response) before a request is given up: HF_HUB_DOWNLOAD_TIMEOUT, default 10. */
  timeoutS: number;
}

/** The client from the environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN, HF_HUB_DOWNLOAD_TIMEOUT. */
export function hubClient(env: NodeJS.ProcessEnv = process.env): HubClient {
  const t = Number(env.HF_HUB_DOWNLOAD_TIMEOUT);
  return {
    endpoint: (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, ""),
    token: env.HF_TOKEN || undefined,
    timeoutS: Number.isFinite(t) && t > 0 ? t : 10,
  };
}

/** An abort signal that fires after `s` seconds without a poke (a stalled connection). */
function idleSignal(s: number): { signal: AbortSignal; poke: () => void; done: () => void } {
  const ac = new AbortController();
  let timer: NodeJS.Timeout;
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new Error(`no data for ${s} s (HF_HUB_DOWNLOAD_TIMEOUT)`)), s * 1000);
  };
  poke();
  return { signal: ac.signal, poke, done: () => clearTimeout(timer) };
}

const quotePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

async function hubFetch(
  c: HubClient,
  url: string,
  what: string,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  const h: Record<string, string> = { "user-agent": "sso", "accept-encoding": "identity", ...headers };
  if (c.token) h.authorization = `Bearer ${c.token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: h,
      redirect: "follow",
      signal: signal ?? AbortSignal.timeout(c.timeoutS * 1000),
    });
  } catch (e) {
    const cause = ((e as { cause?: unknown }).cause ?? signal?.reason ?? e) as { code?: unknown; message?: string };
    const why = typeof cause?.code === "string" ? cause.code : (cause?.message ?? String(e));
    // Reached only for an id that is neither a local folder nor complete in the cache: say so (a mistyped path lands here).
    throw new Error(
      `${what}: not a local folder nor in the Hugging Face cache, and ${c.endpoint} cannot be reached (${why})`,
    );
  }
  if (res.ok) return res;
  await res.body?.cancel();
  const code = res.headers.get("x-error-code");
  if (code === "GatedRepo" || res.status === 403)
    throw new Error(
      c.token
        ? `${what}: gated repository, and HF_TOKEN has no access (accept its terms on the Hub)`
        : `${what}: gated repository: set HF_TOKEN to a token that has accepted its terms`,
    );
  if (res.status === 401)
    throw new Error(
      `${what}: not found on ${c.endpoint}${c.token ? "" : ", or private or gated (set HF_TOKEN)"} (HTTP 401)`,
    );
  if (code === "RepoNotFound" || code === "RevisionNotFound" || code === "EntryNotFound" || res.status === 404)
    throw new Error(`${what}: not found on ${c.endpoint} (HTTP 404)`);
  throw new Error(`${what}: HTTP ${res.status} from ${c.endpoint}`);
}

/** The hash a finished blob must have: sha256 (LFS, 64 hex) or the git blob sha1 (40 hex) of its bytes. */
async function blobHash(path: string, etag: string): Promise<string> {
  const git = etag.length === 40;
  const h = createHash(git ? "sha1" : "sha256");
  if (git) h.update(`blob ${statSync(path).size}\0`);
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
}

/** huggingface_hub's _create_symlink: a relative link from snapshots/SHA/FILE to blobs/ETAG. */
function linkPointer(blob: string, pointer: string): void {
  mkdirSync(dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  symlinkSync(relative(dirname(pointer), blob), pointer);
}

/**
 * Downloads the model files of `ref` into `cache` (those not already there) and returns the snapshot folder.
 * The sizes are checked against the free disk space before any byte is written.
 */
export async function downloadRepo(
  cache: string,
  ref: HubRef,
  c: HubClient = hubClient(),
  want: (file: string) => boolean = (f) => wantedFile(f, ref.type),
): Promise<string> {
  const name = `${ref.type === "dataset" ? "datasets/" : ""}${ref.repoId}@${ref.revision}`;
  const info = (await (
    await hubFetch(
      c,
      `${c.endpoint}/api/${ref.type}s/${quotePath(ref.repoId)}/revision/${encodeURIComponent(ref.revision)}?blobs=true`,
      name,
    )
  ).json()) as { sha?: string; siblings?: Sibling[] };
  const sha = info.sha;
  if (typeof sha !== "string" || !/^[0-9a-f]{40}$/.test(sha)) throw new Error(`${name}: the Hub gave no commit sha`);
  const files = (info.siblings ?? [])
    .filter((s) => want(s.rfilename))
    .map((s) => ({ file: s.rfilename, etag: s.lfs?.sha256 ?? s.lfs?.oid ?? s.blobId, size: s.lfs?.size ?? s.size }));
  if (files.length === 0)
    throw new Error(
      `${name}: ${ref.type === "dataset" ? "no matching .parquet / .jsonl / .json files" : "no model files (config.json, *.safetensors)"} in the repository`,
    );
  const folder = repoFolder(cache, ref);
  const snapshot = join(folder, "snapshots", sha);
  const todo = files.filter((f) => !existsSync(join(snapshot, f.file)));
  for (const f of todo)
    if (!f.etag || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(f.etag) || f.size === undefined)
      throw new Error(`${name}: the Hub gave no hash or size for ${f.file}`);
  const blob = (f: (typeof files)[number]) => join(folder, "blobs", f.etag!);
  const have = (p: string) => (existsSync(p) ? statSync(p).size : 0);
  const need = todo
    .filter((f) => !existsSync(blob(f)))
    .reduce((n, f) => n + f.size! - have(`${blob(f)}.incomplete`), 0);
  mkdirSync(join(folder, "blobs"), { recursive: true });
  const fs = statfsSync(join(folder, "blobs"));
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (need > free)
    throw new Error(
      `${name}: needs ${(need / 2 ** 30).toFixed(2)} GB in ${cache}, only ${(free / 2 ** 30).toFixed(2)} GB free`,
    );
  if (todo.length > 0 && process.stderr.isTTY)
    process.stderr.write(
      `sso: downloading ${name} (${todo.length} files, ${(need / 2 ** 20).toFixed(1)} MB) into ${cache}\n`,
    );
  const totalMb = Math.max(1, Math.ceil(need / 2 ** 20));
  const bar = progress(`download ${ref.repoId}`, totalMb, "MB");
  let bytes = 0; // the bar advances in whole MB
  const tick = (n: number) => {
    const before = Math.floor(bytes / 2 ** 20);
    bytes += n;
    if (Math.floor(bytes / 2 ** 20) > before) bar.tick(Math.floor(bytes / 2 ** 20) - before);
  };
  try {
    for (const f of todo) {
      const target = blob(f);
      if (!existsSync(target)) await fetchBlob(c, ref, sha, f.file, f.etag!, target, name, tick);
      linkPointer(target, join(snapshot, f.file));
    }
    bar.tick(totalMb - Math.floor(bytes / 2 ** 20)); // the last part-MB
  } finally {
    bar.stop();
  }
  if (ref.revision !== sha) {
    mkdirSync(dirname(join(folder, "refs", ref.revision)), { recursive: true });
    writeFileAtomic(join(folder, "refs", ref.revision), sha);
  }
  return snapshot;
}

/** One file into blobs/ETAG via ETAG.incomplete, resumed with a Range request, verified before the rename. */
async function fetchBlob(
  c: HubClient,
  ref: HubRef,
  sha: string,
  file: string,
  etag: string,
  target: string,
  name: string,
  tick: (bytes: number) => void,
): Promise<void> {
  const part = `${target}.incomplete`;
  const start = existsSync(part) ? statSync(part).size : 0;
  const prefix = ref.type === "dataset" ? "datasets/" : "";
  const url = `${c.endpoint}/${prefix}${quotePath(ref.repoId)}/resolve/${sha}/${quotePath(file)}`;
  const idle = idleSignal(c.timeoutS);
  try {
    await fetchInto(c, url, `${name}: ${file}`, start, part, idle, tick);
  } finally {
    idle.done();
  }
  const got = await blobHash(part, etag);
  if (got !== etag) {
    unlinkSync(part);
    throw new Error(
      `${name}: ${file}: checksum mismatch (got ${got}, the Hub states ${etag}); rerun to download again`,
    );
  }
  renameSync(part, target);
}

/** The GET of one file appended to (or, when the server ignores the Range, written over) `part`. */
async function fetchInto(
  c: HubClient,
  url: string,
  what: string,
  start: number,
  part: string,
  idle: ReturnType<typeof idleSignal>,
  tick: (bytes: number) => void,
): Promise<void> {
  const etag = basename(part, ".incomplete");
  const res = await hubFetch(c, url, what, start > 0 ? { range: `bytes=${start}-` } : {}, idle.signal);
  const stated = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "")
    .replace(/^W\//, "")
    .replace(/"/g, "");
  if (stated && stated !== etag) {
    await res.body?.cancel();
    throw new Error(`${what}: the Hub's ETag ${stated} differs from its listing's ${etag}`);
  }
  const append = start > 0 && res.status === 206;
  if (start > 0 && !append) unlinkSync(part);
  if (!res.body) throw new Error(`${what}: empty response`);
  const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
  body.on("data", (chunk: Buffer) => {
    idle.poke();
    tick(chunk.length);
  });
  try {
    await pipeline(body, createWriteStream(part, { flags: append ? "a" : "w" }));
  } catch (e) {
    const why = idle.signal.aborted ? (idle.signal.reason as Error).message : (e as Error).message;
    throw new Error(`${what}: download interrupted (${why}); rerun to resume`);
  }
}
