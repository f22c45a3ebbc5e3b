// The torch trainer's launcher and plan contract, without training: a rank that never reaches the rendezvous is one
// line (naming the rank, the address:port and its log's last line) within train.torch.startupTimeout and leaves no
// process behind; a rank that fails before the rendezvous stops the other at once; the launcher refuses a plan with
// a missing or unknown key (one line naming it), and so does `check-plan` under a Python without torch; the
// committed python/sso_torch/plan.schema.json is the one the zod schema gives.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { PLAN_VERSION, planJsonSchema, type TorchPlan } from "../../src/sso/torch-plan.js";
import { TorchSettings } from "../../src/sso/train-config.js";
import { packageRoot } from "../../src/util/package-root.js";
import { tempDir } from "../helpers.js";

const TORCH_PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(TORCH_PYTHON, ["-c", "import torch"]).status === 0;
const anyPython = ["python3", TORCH_PYTHON].find((p) => spawnSync(p, ["-c", "import json"]).status === 0);
const PYTHONPATH = join(packageRoot(), "python");

/** A plan that passes the schema; the ranks of these tests stop before they read anything else from it. */
function plan(work: string, torch: Partial<TorchSettings>): TorchPlan {
  const dir = join(work, "torch");
  mkdirSync(dir, { recursive: true });
  return {
    version: PLAN_VERSION,
    out: work,
    dir,
    init: join(work, "no-model"),
    tied: true,
    configF32: "{}",
    configFinal: "{}",
    saveDtype: "F32",
    carry: [],
    objective: {
      base: "ipo",
      beta: 0.1,
      theta: 0.1,
      alpha: 0.5,
      useWeight: true,
      weightScope: "all",
      detachWeight: false,
      steering: "sso",
      gamma: 0,
      generator: false,
    },
    pairs: ["x_chosen", "x_rejected"],
    optim: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 },
    microBatch: 1,
    steps: [[0]],
    lrs: [1e-4],
    stepsPerEpoch: 1,
    total: 1,
    start: 0,
    saveEvery: 0,
    fingerprint: "0",
    trainable: [],
    threads: 1,
    lora: null,
    torch: TorchSettings.parse({ python: TORCH_PYTHON, device: "cpu", ...torch }),
  };
}

function launch(work: string, p: unknown, env: Record<string, string> = {}, timeout = 120_000) {
  const path = join(work, "torch", "plan.json");
  writeFileSync(path, JSON.stringify(p));
  const t0 = Date.now();
  const r = spawnSync(TORCH_PYTHON, ["-m", "sso_torch", "launch", path], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH, ...env },
    timeout,
    killSignal: "SIGKILL",
  });
  return { ...r, seconds: (Date.now() - t0) / 1000, path };
}

/** PIDs of live processes whose command line mentions s (zombies excluded). */
function processesMentioning(s: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmd.includes(s) && state !== "Z") out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("torch launcher", { skip: !hasTorch && `${TORCH_PYTHON} cannot import torch` }, () => {
  it("a rank that never reaches the rendezvous is one line within startupTimeout, and no process is left", () => {
    const work = tempDir("sso-torch-launch-"),
      limit = 15;
    const r = launch(work, plan(work, { nproc: 2, startupTimeout: limit }), { SSO_TORCH_STALL: "1:600" });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, r.stdout);
    assert.match(
      lines[0],
      /^rank 1: did not reach init_process_group within 15 s \(train\.torch\.startupTimeout\); rendezvous 127\.0\.0\.1:\d+; its log is empty/,
    );
    assert.ok(r.seconds < limit + 20, `took ${r.seconds} s`);
    // Rank 0 reached the rendezvous (it wrote its pid) and waited there; it and rank 1 are gone.
    const pid0 = Number(readFileSync(join(work, "torch", "rank-0.joining"), "utf8"));
    assert.ok(pid0 > 0 && !alive(pid0), `rank 0 (pid ${pid0}) is still alive`);
    assert.deepEqual(processesMentioning(r.path), []);
  });

  it("a rank that fails before the rendezvous stops the other at once, naming the rendezvous", () => {
    const work = tempDir("sso-torch-launch-");
    // FSDP on a CPU device is refused by every rank before init_process_group.
    const r = launch(work, plan(work, { nproc: 2, fsdp: true, startupTimeout: 300 }));
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stdout.trim(),
      /^rank [01]: train\.torch\.fsdp: FSDP needs CUDA.*\(before init_process_group; rendezvous 127\.0\.0\.1:\d+\)$/,
    );
    assert.ok(r.seconds < 120, `took ${r.seconds} s`);
    assert.deepEqual(processesMentioning(r.path), []);
  });

  it("the launcher refuses a plan with a missing or unknown key or another version, naming it", () => {
    const work = tempDir("sso-torch-launch-");
    const { microBatch: _m, ...missing } = plan(work, {});
    let r = launch(work, missing);
    assert.equal(r.status, 1);
    assert.match(r.stdout.trim(), /^launcher: .*plan\.json: plan\.microBatch: missing key$/);
    r = launch(work, { ...plan(work, {}), torch: { ...plan(work, {}).torch, sharded: true } });
    assert.match(r.stdout.trim(), /^launcher: .*plan\.json: plan\.torch\.sharded: unknown key$/);
    r = launch(work, { ...plan(work, {}), version: PLAN_VERSION + 1 });
    assert.match(r.stdout.trim(), /plan version 3, this sso_torch reads version 2/);
    assert.ok(!existsSync(join(work, "torch", "rank-0.log")), "a rank started");
  });
});

describe("torch plan contract", () => {
  it("python/sso_torch/plan.schema.json is the zod schema's (regenerate: node dist/tools/torch-plan-schema.js)", () => {
    const committed = readFileSync(join(PYTHONPATH, "sso_torch", "plan.schema.json"), "utf8");
    assert.equal(committed, planJsonSchema());
  });

  it("check-plan (no torch needed) accepts a whole plan and refuses each missing key and a wrong type", {
    skip: !anyPython && "no python3",
  }, () => {
    const work = tempDir("sso-torch-plan-"),
      p = plan(work, {}),
      path = join(work, "p.json");
    const check = (v: unknown) => {
      writeFileSync(path, JSON.stringify(v));
      return spawnSync(anyPython!, ["-m", "sso_torch", "check-plan", path], {
        encoding: "utf8",
        env: { ...process.env, PYTHONPATH },
      });
    };
    assert.equal(check(p).status, 0, check(p).stderr);
    for (const key of Object.keys(p)) {
      const { [key as keyof TorchPlan]: _drop, ...rest } = p;
      const r = check(rest);
      assert.equal(r.status, 1, key);
      const want =
        key === "version"
          ? "plan version None, this sso_torch reads version 2 (mixed installs?)"
          : `plan.${key}: missing key`;
      assert.equal(r.stderr.trim(), `${path}: ${want}`);
    }
    const r = check({ ...p, optim: { ...p.optim, eps: "small" } });
    assert.equal(r.stderr.trim(), `${path}: plan.optim.eps: expected number, got "small"`);
  });
});
