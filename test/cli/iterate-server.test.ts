// `sso iterate --server sso`: the loop against a `sso serve` it starts, probes and stops itself (restart mode, full
// fine-tuning) ends with the in-process loop's weights bit for bit; a server that never becomes ready or dies
// during start-up is a one-line error with nothing left running; SIGTERM / SIGINT stop the server before exiting; a
// `kill -9` of `sso iterate` mid-synthesis takes the server down with it (checked by pid) and the rerun resumes to
// the same final weights.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { assertOneLineError, makeTinyModel, runCliWith, spawnCli, tempDir } from "../helpers.js";
import { alive, assertErrorLine, pidOf, until } from "./server-helpers.js";

describe("sso iterate --server sso (restart)", () => {
  const work = tempDir("sso-iter-srv-");
  const model = makeTinyModel(2);
  writeFileSync(
    join(work, "prompts.jsonl"),
    Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `List ${i + 2} fruits.` })).join("\n"),
  );
  const cfg = join(work, "cfg.json");
  writeFileSync(
    cfg,
    JSON.stringify({
      synth: { batch: 3, selection: { maxNewTokens: 6 }, sampling: { maxNewTokens: 12 } },
      train: { lr: 2e-3, batchSize: 3, saveEvery: 1 },
      iterate: { iterations: 3 },
    }),
  );
  const args = (out: string, ...extra: string[]) => [
    "iterate",
    "--model",
    model,
    "--prompts",
    join(work, "prompts.jsonl"),
    "--out",
    out,
    "--config",
    cfg,
    ...extra,
  ];
  const sso = (...a: string[]) => runCliWith({ timeout: 120_000 }, ...a);
  const weights = (dir: string) => loadModel(dir, getBackend("ref")).params;
  const final = (out: string) => join(out, "iter-3", "train", "model");

  it("ends with the in-process loop's weights, bit for bit, and leaves no server behind", () => {
    const local = sso(...args(join(work, "local")));
    assert.equal(local.status, 0, local.stderr);
    const out = join(work, "served");
    const r = sso(...args(out, "--server", "sso"));
    assert.equal(r.status, 0, r.stderr);
    for (const k of [1, 2, 3]) {
      const dir = join(out, `iter-${k}`);
      assert.match(readFileSync(join(dir, "server.log"), "utf8"), /sso serve: sso-policy on http/);
      assert.ok(!alive(pidOf(dir)), `iteration ${k}'s server still runs`);
      // The same records, byte for byte, but for the policy folder's path (the run directories differ).
      assert.equal(
        readFileSync(join(dir, "data.jsonl"), "utf8").replaceAll(out, "RUN"),
        readFileSync(join(work, "local", `iter-${k}`, "data.jsonl"), "utf8").replaceAll(join(work, "local"), "RUN"),
      );
    }
    assert.match(r.stderr, /probe: the server holds .*iter-2\/train\/model/);
    assert.deepEqual(weights(final(out)), weights(final(join(work, "local"))));
  });

  it("server settings that cannot work are one-line errors before anything is written", () => {
    const out = join(work, "refused");
    for (const [extra, msg] of [
      [["--swap", "lora", "--server-keep"], /^sso: iterate\.server\.swap lora: needs train\.lora/],
      [["--swap", "weights"], /stopBeforeTrain false \(--server-keep\)$/m],
      [["--server-command", "serve {model} {gpu}"], /^sso: iterate\.server\.command: unknown placeholder \{gpu\}$/m],
      [["--server", "tgi"], /iterate\.server\.preset: Invalid option/],
    ] as const) {
      const r = sso(...args(out, "--server", "sso", ...extra));
      assertOneLineError(r, msg, extra.join(" "));
      assert.ok(!existsSync(out), "the run directory was created");
    }
    assertOneLineError(sso(...args(out, "--server-keep")), /^sso: --server-keep needs --server PRESET/);
  });

  it("a server that never becomes ready: one-line error naming the log, nothing left running", () => {
    const out = join(work, "never");
    const r = sso(
      ...args(
        out,
        "--server",
        "sso",
        "--server-command",
        "echo starting; exec sleep 60",
        "--server-ready-timeout",
        "1",
      ),
    );
    assertErrorLine(
      r,
      /^sso: iteration 1\/3 \(iterate\.server\): the server was not ready within 1 s \(GET \/health: .*\); .*server\.log: # .* \| starting$/,
    );
    assert.ok(!alive(pidOf(join(out, "iter-1"))), "the server still runs");
    assert.ok(!existsSync(join(out, "iter-1", "data.jsonl")), "records were written");
  });

  it("a server that dies during start-up: one-line error with its last log lines", () => {
    const out = join(work, "dies");
    const r = sso(...args(out, "--server", "sso", "--server-command", "echo no GPU found >&2; sleep 0.2; exit 3"));
    assertErrorLine(
      r,
      /^sso: iteration 1\/3 \(iterate\.server\): the server exited during start-up \(exit code 3\); .*server\.log: .*no GPU found$/,
    );
    assert.ok(!alive(pidOf(join(out, "iter-1"))));
  });

  it("SIGTERM (or Ctrl-C's SIGINT) to sso iterate stops the server before it exits", async () => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const out = join(work, `signal-${sig}`);
      const child = spawnCli(args(out, "--server", "sso"), { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
      const dir = join(out, "iter-1");
      await until(() => existsSync(join(dir, "data.jsonl.progress.json")), 90_000, "iteration 1 never synthesised");
      const pid = pidOf(dir);
      child.kill(sig);
      assert.equal(await exited, sig === "SIGTERM" ? 143 : 130, stderr);
      assert.ok(!alive(pid), `${sig}: the server (pid ${pid}) outlived sso iterate`);
      assert.match(stderr, new RegExp(`sso: ${sig}: stopping 1 server`));
    }
  });

  it("kill -9 of sso iterate mid-synthesis takes the server down; the rerun resumes to the same weights", async () => {
    const out = join(work, "killed");
    const child = spawnCli(args(out, "--server", "sso"), { stdio: "ignore" });
    const exited = new Promise((res) => child.on("exit", res));
    const dir = join(out, "iter-2");
    await until(() => existsSync(join(dir, "data.jsonl.progress.json")), 90_000, "iteration 2 never synthesised");
    const pid = pidOf(dir);
    assert.ok(alive(pid), "the server is not running mid-synthesis");
    child.kill("SIGKILL");
    await exited;
    await until(() => !alive(pid), 10_000, `the server (pid ${pid}) outlived sso iterate`);
    assert.ok(!existsSync(join(out, "summary.json")), "the run finished before it was killed");
    const r = sso(...args(out, "--server", "sso"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resuming/);
    assert.deepEqual(weights(final(out)), weights(final(join(work, "local"))));
  });
});
