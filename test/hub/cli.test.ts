// `sso synth --model org/name --prompts FILE.parquet` end to end against the mock Hub (mock-hub.ts) on the tiny test model: the CLI's
// preAction hook resolves the id into HF_HUB_CACHE; a gated repository without HF_TOKEN is a one-line error, and
// with it the token appears in no output, log or cache file.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parquetWriteFile } from "hyparquet-writer";
import { CLI, makeTinyModel, tempDir } from "../helpers.js";
import { refusedUrl, repoFromFolder, startMockHub } from "./mock-hub.js";

const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const TOKEN = "hf_cliSECRET0987654321";

type Run = { status: number | null; stdout: string; stderr: string };

/** Starts the CLI without blocking this process's event loop (the mock Hub lives here); killed after 5 minutes. */
function spawnSso(env: NodeJS.ProcessEnv, ...args: string[]): { pid: number; done: Promise<Run> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, detached: true });
  let stdout = "",
    stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 300_000);
  const done = new Promise<Run>((resolve) =>
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
  return { pid: child.pid!, done };
}

const sso = (env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> => spawnSso(env, ...args).done;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

test("sso synth --model org/name: downloaded from the (mock) Hub into the cache, then synthesised", async () => {
  const model = makeTinyModel(4);
  const hub = await startMockHub({
    "org/tiny": repoFromFolder(model, SHA),
    "org/gated": repoFromFolder(model, SHA, { gatedToken: TOKEN }),
  });
  try {
    const work = tempDir();
    // The prompts as Parquet in GSM8K's shape ({question, answer}): --prompts maps them (src/data/prompts.ts).
    parquetWriteFile({
      filename: join(work, "prompts.parquet"),
      columnData: [
        { name: "question", data: ["Why is the sky blue?", "Name a prime.", "Say hi."], type: "STRING" },
        { name: "answer", data: ["Rayleigh.", "2", "hi"], type: "STRING" },
      ],
    });
    writeFileSync(
      join(work, "synth.yaml"),
      "synth:\n  selection:\n    maxNewTokens: 6\n  sampling:\n    maxNewTokens: 12\n",
    );
    const env = { HF_HUB_CACHE: join(work, "cache"), HF_ENDPOINT: hub.url, HF_TOKEN: "", SSO_CACHE: join(work, "sso") };
    const args = (model: string, out: string) => [
      "synth",
      "--model",
      model,
      "--prompts",
      join(work, "prompts.parquet"),
      "--out",
      join(work, out),
      "--config",
      join(work, "synth.yaml"),
    ];
    const r = await sso(env, ...args("org/tiny", "out.jsonl"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /synth: 3 prompts → \d+ records/);
    assert.ok(readdirSync(join(work, "cache", "models--org--tiny", "snapshots", SHA)).includes("model.safetensors"));

    const gated = await sso(env, ...args("org/gated", "gated.jsonl"));
    assert.notEqual(gated.status, 0);
    assert.equal(gated.stderr.trim().split("\n").length, 1, gated.stderr);
    assert.match(gated.stderr, /^sso: --model org\/gated@main: config\.json: gated repository: set HF_TOKEN/);

    const ok = await sso({ ...env, HF_TOKEN: TOKEN }, ...args("org/gated", "gated.jsonl"));
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(!ok.stdout.includes(TOKEN) && !ok.stderr.includes(TOKEN));
    for (const f of walk(work)) assert.ok(!readFileSync(f).includes(TOKEN), `${f} holds the token`);
  } finally {
    await hub.close();
  }
});

test("sso iterate --model org/name --prompts datasets/org/name:split: one iteration on the mock Hub's model and data", async () => {
  const model = makeTinyModel(6);
  const work = tempDir();
  const parquet = (name: string, questions: string[]) => {
    const f = join(work, name);
    parquetWriteFile({
      filename: f,
      columnData: [
        { name: "question", data: questions, type: "STRING" },
        { name: "answer", data: questions.map(() => "42"), type: "STRING" },
      ],
    });
    return readFileSync(f);
  };
  const hub = await startMockHub({
    "org/tiny": repoFromFolder(model, SHA),
    "datasets/org/qa": {
      type: "dataset",
      sha: "fedcba9876543210fedcba9876543210fedcba98",
      files: {
        "README.md": Buffer.from("# qa"),
        "data/train-00000-of-00001.parquet": parquet("a.parquet", [
          "List 2 fruits.",
          "List 3 fruits.",
          "Name a prime.",
          "Say hi.",
        ]),
        "data/test-00000-of-00001.parquet": parquet("b.parquet", ["held out"]),
      },
    },
  });
  try {
    writeFileSync(
      join(work, "cfg.json"),
      JSON.stringify({
        synth: { batch: 4, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 12 } },
        train: { lr: 2e-3, batchSize: 2 },
        iterate: { iterations: 1 },
      }),
    );
    const env = { HF_HUB_CACHE: join(work, "cache"), HF_ENDPOINT: hub.url, SSO_CACHE: join(work, "sso") };
    const run = join(work, "run");
    const r = await sso(
      env,
      ...["iterate", "--model", "org/tiny", "--prompts", "datasets/org/qa:train", "--out", run],
      ...["--config", join(work, "cfg.json")],
    );
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(readFileSync(join(run, "summary.json"), "utf8"));
    assert.equal(summary.iterations.length, 1);
    const snap = join(work, "cache", "datasets--org--qa", "snapshots", "fedcba9876543210fedcba9876543210fedcba98");
    assert.deepEqual(readdirSync(join(snap, "data")), ["train-00000-of-00001.parquet"], "only the split's files");
    const { readlinkSync } = await import("node:fs");
    const { createHash } = await import("node:crypto");
    const trainSha = createHash("sha256")
      .update(readFileSync(join(snap, "data", "train-00000-of-00001.parquet")))
      .digest("hex");
    assert.equal(readlinkSync(join(snap, "data", "train-00000-of-00001.parquet")), `../../../blobs/${trainSha}`);
    assert.equal(readFileSync(join(work, "cache", "datasets--org--qa", "refs", "main"), "utf8").length, 40);
    // Offline, the network refused: the same command resumes from the cache alone.
    const again = await sso(
      { ...env, HF_HUB_OFFLINE: "1", HF_ENDPOINT: await refusedUrl() },
      ...["iterate", "--model", "org/tiny", "--prompts", "datasets/org/qa:train", "--out", run],
      ...["--config", join(work, "cfg.json")],
    );
    assert.equal(again.status, 0, again.stderr);
    const missing = await sso(
      { ...env, HF_HUB_OFFLINE: "1" },
      ...["iterate", "--model", "org/tiny", "--prompts", "datasets/org/qa:validation", "--out", join(work, "r2")],
    );
    assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);
    assert.match(missing.stderr, /^sso: --prompts datasets\/org\/qa:validation: no files of split "validation"/);
  } finally {
    await hub.close();
  }
});

test("sso killed mid-download (SIGKILL): the rerun resumes the partial blob with a Range request and verifies it", async () => {
  const model = makeTinyModel(7);
  const hub = await startMockHub({ "org/tiny": repoFromFolder(model, SHA) });
  try {
    const work = tempDir();
    writeFileSync(join(work, "prompts.jsonl"), `${JSON.stringify({ prompt: "Say hi." })}\n`);
    const env = { HF_HUB_CACHE: join(work, "cache"), HF_ENDPOINT: hub.url, SSO_CACHE: join(work, "sso") };
    const args = [
      "synth",
      "--model",
      "org/tiny",
      "--prompts",
      join(work, "prompts.jsonl"),
      "--out",
      join(work, "o.jsonl"),
    ];
    hub.stallAfter.set("model.safetensors", 16384);
    const first = spawnSso({ ...env, HF_HUB_DOWNLOAD_TIMEOUT: "120" }, ...args);
    const blobs = join(work, "cache", "models--org--tiny", "blobs");
    const partial = () => (existsSync(blobs) ? readdirSync(blobs).find((f) => f.endsWith(".incomplete")) : undefined);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const p = partial();
      if (p && statSync(join(blobs, p)).size >= 16384) break;
      assert.ok(Date.now() < deadline, "the download never reached 16384 bytes");
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(-first.pid, "SIGKILL");
    assert.equal((await first.done).status, null, "killed");
    assert.equal(statSync(join(blobs, partial()!)).size, 16384);
    const again = await sso(env, ...args, "--max-new-tokens", "8");
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(
      hub.requests.filter((r) => r.headers.range !== undefined).map((r) => r.headers.range),
      ["bytes=16384-"],
    );
    const snap = join(work, "cache", "models--org--tiny", "snapshots", SHA);
    assert.deepEqual(readFileSync(join(snap, "model.safetensors")), readFileSync(join(model, "model.safetensors")));
    assert.equal(partial(), undefined);
  } finally {
    await hub.close();
  }
});
