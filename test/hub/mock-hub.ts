// A mock Hugging Face Hub on 127.0.0.1 for the download tests: the two routes sso's client calls (as
// huggingface_hub does) — GET /api/{models,datasets}/ID/revision/REV?blobs=true and GET [datasets/]ID/resolve/REV/FILE —
// with ETag / X-Linked-Etag / X-Repo-Commit headers, Range requests (206), gated repositories (401 GatedRepo without
// the token), unknown repositories (404 RepoNotFound), and faults on demand: a transfer cut after N bytes, one that
// stalls after N bytes, a corrupted body. Every request is recorded (method, url, headers).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface MockRepo {
  type?: "model" | "dataset";
  sha: string;
  files: Record<string, Buffer>;
  /** Sizes the listing states instead of the real ones (a repository too large for the disk). */
  listedSizes?: Record<string, number>;
  /** Served only with `Authorization: Bearer TOKEN`. */
  gatedToken?: string;
}

export interface MockHub {
  url: string;
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  /** The next GET of this file is cut after this many bytes (the socket destroyed). */
  cutAfter: Map<string, number>;
  /** The next GET of this file sends this many bytes, then nothing more (the connection held open). */
  stallAfter: Map<string, number>;
  /** GETs of these files serve flipped bytes. */
  corrupt: Set<string>;
  close(): Promise<void>;
}

const isLfs = (name: string) => name.endsWith(".safetensors") || name.endsWith(".parquet") || name.endsWith(".bin");
export const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A repository from a folder's files (a tiny model), with .bin and .pt decoys that must never be fetched. */
export function repoFromFolder(dir: string, sha: string, extra: Partial<MockRepo> = {}): MockRepo {
  const files: Record<string, Buffer> = {};
  for (const f of readdirSync(dir)) files[f] = readFileSync(join(dir, f));
  files["pytorch_model.bin"] = Buffer.from("decoy: never download .bin");
  files["training_args.pt"] = Buffer.from("decoy: never download .pt");
  return { sha, files, ...extra };
}

export async function startMockHub(repos: Record<string, MockRepo>): Promise<MockHub> {
  const requests: MockHub["requests"] = [];
  const cutAfter = new Map<string, number>();
  const stallAfter = new Map<string, number>();
  const corrupt = new Set<string>();
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    const path = decodeURIComponent(url.pathname);
    const api = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    const resolve = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const key = api
      ? api[1] === "datasets"
        ? `datasets/${api[2]}`
        : api[2]
      : resolve
        ? `${resolve[1] ?? ""}${resolve[2]}`
        : "";
    const repo = repos[key];
    if (!repo || (!api && !resolve)) {
      res.writeHead(404, { "x-error-code": "RepoNotFound" }).end('{"error":"Repository not found"}');
      return;
    }
    const rev = api ? api[3] : resolve![3];
    if (rev !== "main" && rev !== repo.sha) {
      res.writeHead(404, { "x-error-code": "RevisionNotFound" }).end();
      return;
    }
    if (api) {
      const siblings = Object.entries(repo.files).map(([rfilename, b]) => ({
        rfilename,
        size: repo.listedSizes?.[rfilename] ?? b.length,
        blobId: gitSha1(b),
        ...(isLfs(rfilename) && {
          lfs: { sha256: sha256(b), size: repo.listedSizes?.[rfilename] ?? b.length, pointerSize: 130 },
        }),
      }));
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ id: key, sha: repo.sha, siblings }));
      return;
    }
    if (repo.gatedToken !== undefined && req.headers.authorization !== `Bearer ${repo.gatedToken}`) {
      res.writeHead(401, { "x-error-code": "GatedRepo" }).end("Access to this repository is restricted");
      return;
    }
    const file = resolve![4];
    let body = repo.files[file];
    if (body === undefined) {
      res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
      return;
    }
    const etag = isLfs(file) ? sha256(body) : gitSha1(body);
    const headers: Record<string, string> = { "x-repo-commit": repo.sha, etag: `"${etag}"`, "accept-ranges": "bytes" };
    if (isLfs(file)) headers["x-linked-etag"] = `"${etag}"`;
    if (corrupt.has(file)) body = Buffer.from(body.map((x) => x ^ 0xff));
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    let status = 200;
    if (range) {
      const start = Number(range[1]);
      headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
      body = body.subarray(start);
      status = 206;
    }
    headers["content-length"] = String(body.length);
    res.writeHead(status, headers);
    const cut = cutAfter.get(file);
    if (cut !== undefined) {
      cutAfter.delete(file);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    const stall = stallAfter.get(file);
    if (stall !== undefined) {
      stallAfter.delete(file);
      res.write(body.subarray(0, stall));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutAfter,
    stallAfter,
    corrupt,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed): connections to it are refused. */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
