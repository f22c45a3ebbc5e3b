// Hub ids against a mock Hub on 127.0.0.1 (mock-hub.ts; nothing reaches the internet): the cache layout
// huggingface_hub writes, resuming an interrupted transfer, checksums, offline mode, gated repositories and the
// one-line errors.
import assert from "node:assert/strict";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hubCacheDir, parseHubId } from "../../src/hub/cache.js";
import { resolveModel } from "../../src/hub/resolve.js";
import { makeTinyModel, tempDir } from "../helpers.js";
import { gitSha1, type MockHub, refusedUrl, repoFromFolder, sha256, startMockHub } from "./mock-hub.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const model = makeTinyModel(5);
const TOKEN = "hf_secretTOKEN1234567890";

async function withHub(fn: (hub: MockHub) => Promise<void>): Promise<void> {
  const hub = await startMockHub({
    "org/tiny": repoFromFolder(model, SHA),
    "org/gated": repoFromFolder(model, SHA, { gatedToken: TOKEN }),
    "org/huge": repoFromFolder(model, SHA, { listedSizes: { "model.safetensors": 2 ** 60 } }),
  });
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

const envFor = (hub: MockHub | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  HF_HUB_CACHE: tempDir("sso-hf-cache-"),
  HF_ENDPOINT: hub?.url ?? "http://127.0.0.1:1",
  ...extra,
});

/** Every file under dir (symlinks as links), relative. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)],
  );
}

test("Hub ids: org/name[@rev] parse; paths and local folders are not ids; the cache folder follows HF's env vars", () => {
  assert.deepEqual(parseHubId("Qwen/Qwen2.5-0.5B-Instruct"), {
    repoId: "Qwen/Qwen2.5-0.5B-Instruct",
    revision: "main",
    type: "model",
  });
  assert.equal(parseHubId("org/name@v1.0")?.revision, "v1.0");
  for (const p of ["/abs/x", "./org/name", "a/b/c", "name", "../x", "org/name@"])
    assert.equal(parseHubId(p), undefined, p);
  assert.equal(hubCacheDir({ HF_HUB_CACHE: "/c", HF_HOME: "/h" }), "/c");
  assert.equal(hubCacheDir({ HF_HOME: "/h" }), "/h/hub");
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: "/x" }), "/x/huggingface/hub");
});

test("download → huggingface_hub's cache layout: refs/main, snapshots/SHA/FILE → ../../blobs/ETAG, no .bin/.pt", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub);
    const dir = await resolveModel("org/tiny", env);
    const repo = join(env.HF_HUB_CACHE!, "models--org--tiny");
    assert.equal(dir, join(repo, "snapshots", SHA));
    assert.equal(readFileSync(join(repo, "refs", "main"), "utf8"), SHA);
    for (const f of readdirSync(model)) {
      const body = readFileSync(join(model, f));
      const etag = f.endsWith(".safetensors") ? sha256(body) : gitSha1(body);
      const pointer = join(dir, f);
      assert.ok(lstatSync(pointer).isSymbolicLink(), `${f} is a symlink`);
      assert.equal(readlinkSync(pointer), `../../blobs/${etag}`, f);
      assert.deepEqual(readFileSync(join(repo, "blobs", etag)), body, f);
    }
    assert.deepEqual(walk(dir).sort(), readdirSync(model).sort(), "only the model's files, never .bin / .pt");
    assert.ok(!walk(repo).some((f) => f.endsWith(".incomplete")));
    const gets = hub.requests.filter((r) => r.url.includes("/resolve/"));
    assert.ok(
      gets.every((r) => r.url.includes(`/resolve/${SHA}/`)),
      "files are fetched at the resolved commit",
    );
    // A second resolve uses the cache: no request at all.
    const before = hub.requests.length;
    assert.equal(await resolveModel("org/tiny", env), dir);
    assert.equal(hub.requests.length, before);
  });
});

test("an interrupted transfer leaves blobs/ETAG.incomplete; the rerun resumes it with a Range request and verifies", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub);
    hub.cutAfter.set("model.safetensors", 4096);
    await assert.rejects(resolveModel("org/tiny", env), /model\.safetensors: download interrupted .*rerun to resume/);
    const blobs = join(env.HF_HUB_CACHE!, "models--org--tiny", "blobs");
    const part = readdirSync(blobs).find((f) => f.endsWith(".incomplete"));
    assert.ok(part, "a partial blob is kept");
    const kept = statSync(join(blobs, part)).size;
    assert.ok(kept >= 4096 && kept < statSync(join(model, "model.safetensors")).size, `kept ${kept} bytes`);
    const dir = await resolveModel("org/tiny", env);
    const ranged = hub.requests.filter((r) => r.headers.range !== undefined);
    assert.deepEqual(
      ranged.map((r) => r.headers.range),
      [`bytes=${kept}-`],
    );
    assert.deepEqual(readFileSync(join(dir, "model.safetensors")), readFileSync(join(model, "model.safetensors")));
    assert.ok(!readdirSync(blobs).some((f) => f.endsWith(".incomplete")));
  });
});

test("a body that does not match the Hub's hash is refused and not kept", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub);
    hub.corrupt.add("model.safetensors");
    await assert.rejects(resolveModel("org/tiny", env), /model\.safetensors: checksum mismatch/);
    const blobs = join(env.HF_HUB_CACHE!, "models--org--tiny", "blobs");
    const etag = sha256(readFileSync(join(model, "model.safetensors")));
    assert.ok(!existsSync(join(blobs, etag)) && !existsSync(join(blobs, `${etag}.incomplete`)));
  });
});

test("offline: a pre-filled cache works with the network refused; a missing file or an unknown id is one line", async () => {
  const cache = tempDir("sso-hf-cache-");
  await withHub(async (hub) => {
    await resolveModel("org/tiny", { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url });
  });
  // A freed port on 127.0.0.1: connections are refused; offline mode must not even try.
  const refused = await refusedUrl();
  for (const env of [{ HF_HUB_OFFLINE: "1" }, {}]) {
    const dir = await resolveModel("org/tiny", { HF_HUB_CACHE: cache, HF_ENDPOINT: refused, ...env });
    assert.equal(dir, join(cache, "models--org--tiny", "snapshots", SHA));
  }
  const off = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" };
  await assert.rejects(resolveModel("org/other", off), (e: Error) => {
    assert.equal(
      e.message,
      `org/other: not a local folder and not in the Hugging Face cache ${cache} (HF_HUB_OFFLINE is set)`,
    );
    return true;
  });
  const { rmSync } = await import("node:fs");
  rmSync(join(cache, "models--org--tiny", "snapshots", SHA, "tokenizer.json"));
  await assert.rejects(
    resolveModel("org/tiny", off),
    /^Error: org\/tiny: tokenizer\.json is not in the cached snapshot .* \(HF_HUB_OFFLINE is set\)$/,
  );
  // Online, the network refused: the error names the endpoint.
  await assert.rejects(resolveModel("org/tiny", { HF_HUB_CACHE: cache, HF_ENDPOINT: refused }), (e: Error) => {
    assert.equal(
      e.message,
      `org/tiny@main: not a local folder nor in the Hugging Face cache, and ${refused} cannot be reached (ECONNREFUSED)`,
    );
    return true;
  });
});

test("gated: without HF_TOKEN a one-line error; with it the download works and the token is written nowhere", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub);
    await assert.rejects(resolveModel("org/gated", env), (e: Error) => {
      assert.match(e.message, /^org\/gated@main: config\.json: gated repository: set HF_TOKEN/);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    const dir = await resolveModel("org/gated", { ...env, HF_TOKEN: TOKEN });
    assert.ok(existsSync(join(dir, "model.safetensors")));
    assert.ok(hub.requests.some((r) => r.headers.authorization === `Bearer ${TOKEN}`));
    for (const f of walk(env.HF_HUB_CACHE!))
      assert.ok(!readFileSync(join(env.HF_HUB_CACHE!, f)).includes(TOKEN), `${f} holds the token`);
    // An unknown repository: one line naming it.
    await assert.rejects(
      resolveModel("org/nope", env),
      /^Error: org\/nope@main: not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)$/,
    );
  });
});

test("a local folder of that path wins over the Hub", async () => {
  const work = tempDir();
  const prev = process.cwd();
  process.chdir(work);
  try {
    const { mkdirSync } = await import("node:fs");
    mkdirSync("org/tiny", { recursive: true });
    writeFileSync("org/tiny/config.json", "{}");
    assert.equal(await resolveModel("org/tiny", { HF_HUB_CACHE: join(work, "c"), HF_HUB_OFFLINE: "1" }), "org/tiny");
  } finally {
    process.chdir(prev);
  }
});

test("a repository larger than the free disk space is refused before any file is fetched", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub);
    await assert.rejects(resolveModel("org/huge", env), (e: Error) => {
      assert.match(e.message, /^org\/huge@main: needs \d+\.\d\d GB in .*, only \d+\.\d\d GB free$/);
      return true;
    });
    assert.ok(!hub.requests.some((r) => r.url.includes("/resolve/")), "nothing fetched");
  });
});

test("a transfer that stalls is given up after HF_HUB_DOWNLOAD_TIMEOUT seconds, kept, and resumed", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub, { HF_HUB_DOWNLOAD_TIMEOUT: "1" });
    hub.stallAfter.set("model.safetensors", 8192);
    const t0 = Date.now();
    await assert.rejects(resolveModel("org/tiny", env), /model\.safetensors: download interrupted \(no data for 1 s/);
    assert.ok(Date.now() - t0 < 5000, "given up after about a second");
    const dir = await resolveModel("org/tiny", env);
    assert.deepEqual(
      hub.requests.filter((r) => r.headers.range !== undefined).map((r) => r.headers.range),
      ["bytes=8192-"],
    );
    assert.deepEqual(readFileSync(join(dir, "model.safetensors")), readFileSync(join(model, "model.safetensors")));
  });
});

test("need config (sso info): only config.json is fetched; a later full resolve fetches the rest into the same snapshot", async () => {
  await withHub(async (hub) => {
    const env = envFor(hub);
    const dir = await resolveModel("org/tiny", env, "config");
    assert.deepEqual(readdirSync(dir), ["config.json"]);
    assert.equal(
      await resolveModel("org/tiny", { ...env, HF_HUB_OFFLINE: "1" }, "config"),
      dir,
      "cached config suffices",
    );
    await assert.rejects(resolveModel("org/tiny", { ...env, HF_HUB_OFFLINE: "1" }), /is not in the cached snapshot/);
    assert.equal(await resolveModel("org/tiny", env), dir);
    assert.deepEqual(readdirSync(dir).sort(), readdirSync(model).sort());
  });
});

test("the CLI's flags: serve keeps the Hub id as its model name; --tokenizer-from fetches no weights", async () => {
  const { resolveModelFlags } = await import("../../src/hub/flags.js");
  const holder = (name: string, values: Record<string, unknown>) => ({
    values,
    name: () => name,
    opts: () => ({ ...values }),
    setOptionValue(k: string, v: unknown) {
      values[k] = v;
    },
  });
  await withHub(async (hub) => {
    const env = envFor(hub);
    const serve = holder("serve", { model: "org/tiny" });
    await resolveModelFlags(serve, env);
    assert.equal(serve.values.model, join(env.HF_HUB_CACHE!, "models--org--tiny", "snapshots", SHA));
    assert.equal(serve.values.servedModelName, "org/tiny");
    const init = holder("init-model", { tokenizerFrom: "org/gated" });
    await assert.rejects(resolveModelFlags(init, env), /^Error: --tokenizer-from org\/gated@main: .*gated repository/);
    await resolveModelFlags(init, { ...env, HF_TOKEN: TOKEN });
    const files = readdirSync(init.values.tokenizerFrom as string);
    assert.ok(files.includes("tokenizer.json") && !files.some((f) => f.endsWith(".safetensors")), files.join(" "));
  });
});
