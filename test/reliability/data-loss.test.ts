// Nothing a user owns is destroyed (issue 30, items 1–3), through the real CLI: folder outputs replace only a
// folder this tool wrote (or with --force), the atomic writers never rename over a symlink, FIFO or device, and no
// output may be one of the command's inputs (or lie inside an input folder).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { attachLora, initLora, LoraSettings } from "../../src/model/lora.js";
import { writeAdapter } from "../../src/model/peft.js";
import { writeFileAtomic } from "../../src/util/atomic.js";
import { assertOneLineError, CLI, makeTinyModel, runCli, tempDir } from "../helpers.js";

const sso = runCli;
const model = makeTinyModel(5, { max_position_embeddings: 256 });
const CONFIG = join(model, "config.json");
const SCORE_LINE = '{"prompt_ids":[1,2,3],"response_ids":[4,5]}\n';
const isRoot = process.getuid?.() === 0;

/** A folder with a user's file in it. */
function userFolder(): string {
  const dir = join(tempDir("sso-user-"), "mine");
  mkdirSync(dir);
  writeFileSync(join(dir, "notes.txt"), "my notes");
  return dir;
}

function makeAdapter(): string {
  const m = loadModel(model, getBackend("cpu"));
  const s = LoraSettings.parse({ r: 2, alpha: 4 });
  attachLora(m, s, initLora(m.config, s, 1), "test");
  const dir = join(tempDir("sso-adapter-"), "adapter");
  writeAdapter(dir, m, { baseModel: model });
  return dir;
}

describe("folder outputs replace only a folder this tool wrote, or with --force (item 1)", () => {
  it("init-model --out over a user's folder is refused before any work, naming the path; --force replaces it", () => {
    const dir = userFolder();
    const r = sso("init-model", "--config", CONFIG, "--out", dir);
    assertOneLineError(r, dir);
    assert.match(r.stderr, /notes\.txt/);
    assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "my notes");
    const f = sso("init-model", "--config", CONFIG, "--out", dir, "--force");
    assert.equal(f.status, 0, f.stderr);
    assert.ok(existsSync(join(dir, "model.safetensors")) && !existsSync(join(dir, "notes.txt")));
  });

  it("init-model --out over a model folder it wrote (or an empty folder) replaces it, as before", () => {
    const dir = join(tempDir(), "m");
    mkdirSync(dir);
    for (const seed of ["1", "2"]) {
      const r = sso("init-model", "--config", CONFIG, "--out", dir, "--seed", seed, "--tokenizer-from", model);
      assert.equal(r.status, 0, r.stderr);
    }
    assert.deepEqual(readdirSync(dir).sort(), [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
  });

  it("a file at init-model --out is refused, even with --force", () => {
    const file = join(tempDir(), "precious.txt");
    writeFileSync(file, "keep me");
    for (const force of [[], ["--force"]]) {
      assertOneLineError(sso("init-model", "--config", CONFIG, "--out", file, ...force), `${file}: is a file`);
      assert.equal(readFileSync(file, "utf8"), "keep me");
    }
  });

  it("merge --adapter A --out A is refused and the adapter survives; merge over a user's folder is refused", () => {
    const adapter = makeAdapter();
    const before = readFileSync(join(adapter, "adapter_model.safetensors"));
    assertOneLineError(
      sso("merge", "--model", model, "--adapter", adapter, "--out", adapter),
      "is the input --adapter",
    );
    assert.deepEqual(readFileSync(join(adapter, "adapter_model.safetensors")), before);
    const dir = userFolder();
    assertOneLineError(sso("merge", "--model", model, "--adapter", adapter, "--out", dir), dir);
    assert.ok(existsSync(join(dir, "notes.txt")));
    // --out around an input (replacing it would delete the adapter) is refused even with --force.
    const parent = join(adapter, "..");
    assertOneLineError(
      sso("merge", "--model", model, "--adapter", adapter, "--out", parent, "--force"),
      "holds the input --adapter",
    );
    assert.ok(existsSync(join(adapter, "adapter_config.json")));
  });

  it("train --out whose model folder holds a user's files is refused before any work", () => {
    const run = tempDir("sso-run-");
    mkdirSync(join(run, "model"));
    writeFileSync(join(run, "model", "notes.txt"), "mine");
    const r = sso("train", "--model", model, "--data", join(run, "missing.jsonl"), "--out", run);
    assertOneLineError(r, `${run}: model`);
    assert.ok(existsSync(join(run, "model", "notes.txt")));
  });
});

describe("the atomic writers never rename over what is not a regular file (item 2)", () => {
  const data = join(tempDir(), "in.jsonl");
  writeFileSync(data, SCORE_LINE);
  const score = (out: string) => sso("score", "--model", model, "--data", data, "--out", out, "--backend", "ref");

  it("a symlink is kept and its target written (also a dangling one)", () => {
    const dir = tempDir(),
      target = join(dir, "target.jsonl"),
      link = join(dir, "link.jsonl");
    writeFileSync(target, "old\n");
    symlinkSync(target, link);
    const r = score(link);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(lstatSync(link).isSymbolicLink(), "the link was replaced by a file");
    assert.equal(readlinkSync(link), target);
    assert.match(readFileSync(target, "utf8"), /"logp"/);
    const dangling = join(dir, "dangling.jsonl");
    symlinkSync(join(dir, "new.jsonl"), dangling);
    assert.equal(score(dangling).status, 0);
    assert.ok(lstatSync(dangling).isSymbolicLink());
    assert.match(readFileSync(join(dir, "new.jsonl"), "utf8"), /"logp"/);
  });

  it("a FIFO is written through to its reader and stays a FIFO", async () => {
    const fifo = join(tempDir(), "pipe");
    const mk = spawnSync("mkfifo", [fifo]);
    assert.equal(mk.status, 0, "mkfifo failed");
    const reader = spawn("cat", [fifo], { stdio: ["ignore", "pipe", "ignore"], detached: true });
    let got = "";
    reader.stdout.on("data", (d) => (got += d));
    const done = new Promise((res) => reader.on("exit", res));
    const timer = setTimeout(() => process.kill(-reader.pid!, "SIGKILL"), 60_000);
    const child = spawn(process.execPath, [CLI, "score", "--model", model, "--data", data, "--out", fifo], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000,
      killSignal: "SIGKILL",
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const status = await new Promise((res) => child.on("exit", res));
    await done;
    clearTimeout(timer);
    assert.equal(status, 0, err);
    assert.ok(statSync(fifo).isFIFO(), "the FIFO was replaced");
    assert.match(got, /"logp"/);
  });

  it("/dev/null is written through and stays a character device", () => {
    const r = score("/dev/null");
    assert.equal(r.status, 0, r.stderr);
    assert.ok(statSync("/dev/null").isCharacterDevice());
  });

  it("device nodes (mknod): a null-like one is written through, a full-like one gives one line naming it", {
    skip: isRoot ? false : "mknod needs root",
  }, (t) => {
    const dir = tempDir();
    const nul = join(dir, "null"),
      full = join(dir, "full");
    const made = [spawnSync("mknod", [nul, "c", "1", "3"]), spawnSync("mknod", [full, "c", "1", "7"])];
    if (made.some((m) => m.status !== 0)) {
      t.skip("mknod is not permitted here (a container without CAP_MKNOD)");
      return;
    }
    assert.equal(score(nul).status, 0);
    assert.ok(statSync(nul).isCharacterDevice(), "the device node was replaced by a file");
    // generate writes through too, with no OUT.args.json beside a device (nothing there to resume).
    const prompts = join(dir, "p.jsonl");
    writeFileSync(prompts, '{"messages":[{"role":"user","content":"hi"}]}\n');
    const g = sso("generate", "--model", model, "--data", prompts, "--out", nul, "--max-new-tokens", "2");
    assert.equal(g.status, 0, g.stderr);
    assert.ok(statSync(nul).isCharacterDevice() && !existsSync(`${nul}.args.json`));
    assertOneLineError(score(full), new RegExp(`${full}: cannot write \\(ENOSPC\\)`));
    assert.ok(statSync(full).isCharacterDevice(), "the device node was replaced by a file");
  });

  it("a folder or a socket at --out is refused with one line naming it", async () => {
    const dir = tempDir();
    assertOneLineError(score(dir), `${dir}: is a folder`);
    const sock = join(dir, "s.sock");
    const server = createServer().listen(sock);
    await new Promise((res) => server.on("listening", res));
    try {
      assertOneLineError(score(sock), `${sock}: is a socket`);
      assert.throws(() => writeFileAtomic(sock, "x"), /is a socket/);
      assert.ok(statSync(sock).isSocket());
    } finally {
      server.close();
    }
  });
});

describe("an output is never one of the inputs (item 3)", () => {
  it("score --data f --out f (also through a symlink) is refused and f is intact", () => {
    const dir = tempDir(),
      f = join(dir, "f.jsonl"),
      link = join(dir, "link.jsonl");
    writeFileSync(f, SCORE_LINE);
    symlinkSync(f, link);
    for (const out of [f, link]) {
      assertOneLineError(sso("score", "--model", model, "--data", f, "--out", out), "is the input --data");
      assert.equal(readFileSync(f, "utf8"), SCORE_LINE);
    }
  });

  it("generate, rm score, rm filter, rm eval, synth and eval with --out = an input are refused before any work", () => {
    const f = join(tempDir(), "f.jsonl");
    const text = '{"messages":[{"role":"user","content":"hi"}]}\n';
    writeFileSync(f, text);
    const cases: [string[], string][] = [
      ...[["generate"], ["rm", "score"], ["rm", "filter"], ["rm", "eval"]].map((cmd): [string[], string] => [
        [...cmd, "--model", model, "--data", f, "--out", f],
        "--data",
      ]),
      [["synth", "--model", model, "--prompts", f, "--out", f], "--prompts"],
      [["eval", "--model", model, "--data", f, "--out", f], "--data"],
      [["eval", "math", "--data", f, "--format", "gsm8k", "--model", model, "--out", f], "--data"],
      [
        ["eval", "pairwise", "--model", model, "--baseline", f, "--judge", "world", "--out", join(model, "r.json")],
        "--model",
      ],
    ];
    for (const [args, flag] of cases) {
      const r = sso(...args);
      assertOneLineError(r, flag === "--model" ? "lies inside the input --model" : `is the input ${flag}`, args[0]);
      assert.equal(readFileSync(f, "utf8"), text);
    }
  });

  it("export --gguf inside the --model folder is refused and the weights are intact", () => {
    const dir = join(tempDir(), "m");
    assert.equal(sso("init-model", "--config", CONFIG, "--out", dir).status, 0);
    const weights = join(dir, "model.safetensors"),
      before = readFileSync(weights);
    assertOneLineError(sso("export", "--model", dir, "--gguf", weights), "lies inside the input --model");
    assert.deepEqual(readFileSync(weights), before);
  });

  it("merge --out = --model is refused", () => {
    const adapter = makeAdapter();
    assertOneLineError(sso("merge", "--model", model, "--adapter", adapter, "--out", model), "is the input --model");
    assert.ok(existsSync(join(model, "model.safetensors")));
  });
});
