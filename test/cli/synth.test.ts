// `sso synth` through the real CLI on a tiny random model: schema-valid records whose reference log-probs equal an
// independent `sso score` of the same pairs; a run killed mid-way and rerun equals an uninterrupted one byte for
// byte (summary counts included); bad inputs are one-line errors that write nothing.
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DROP_REASONS } from "../../src/sso/filters.js";
import { REF_COLUMNS, type RefColumn, SsoRecord, TRL_COLUMNS } from "../../src/sso/record.js";
import { assertOneLineError, runCli, spawnCli, tempDir } from "../helpers.js";
import { makeTinyModel } from "../sso/helpers.js";

const sso = runCli;
const readLines = (path: string): unknown[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
const withoutTiming = (path: string) => {
  const { timing: _, ...rest } = JSON.parse(readFileSync(path, "utf8"));
  return rest;
};

describe("sso synth", () => {
  const work = tempDir("sso-synth-cli-");
  const model = makeTinyModel(7, { hidden: 96, layers: 2, intermediate: 192 });
  const N = 40;
  const prompts = Array.from({ length: N }, (_, i) =>
    JSON.stringify(
      i % 5 === 3
        ? {
            id: `conv-${i}`,
            messages: [
              { role: "user", content: `Hi ${i}` },
              { role: "assistant", content: "Hello." },
              { role: "user", content: "Tell me more." },
            ],
          }
        : { prompt: `Question ${i}: why is the sky blue?`, source: "extra keys are ignored" },
    ),
  );
  writeFileSync(join(work, "prompts.jsonl"), `${prompts.join("\n")}\n`);
  writeFileSync(
    join(work, "synth.yaml"),
    "synth:\n  selection:\n    maxNewTokens: 6\n  sampling:\n    maxNewTokens: 24\n",
  );
  const args = (out: string, ...extra: string[]) => [
    "synth",
    "--model",
    model,
    "--prompts",
    join(work, "prompts.jsonl"),
    "--out",
    out,
    "--config",
    join(work, "synth.yaml"),
    "--batch",
    "4",
    "--seed",
    "3",
    ...extra,
  ];
  const full = join(work, "full.jsonl");

  it("writes schema-valid TRL-loadable records and a summary whose counts add up", () => {
    const r = sso(...args(full));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`synth: ${N} prompts → \\d+ records`));
    const records = readLines(full).map((l) => SsoRecord.parse(l));
    assert.ok(records.length >= N / 2, `${records.length} of ${N} kept`);
    for (const rec of records) for (const col of TRL_COLUMNS) assert.ok(col in rec);
    assert.ok(records.some((rec) => rec.id === "conv-3" && rec.prompt.length === 3));
    assert.ok(
      records.every((rec) => rec.seed === 3 && rec.sampling.max_new_tokens === 24 && rec.policy_model === model),
    );
    const s = JSON.parse(readFileSync(`${full}.summary.json`, "utf8"));
    assert.equal(s.prompts, N);
    assert.equal(s.kept, records.length);
    assert.equal(s.kept + DROP_REASONS.reduce((a, k) => a + s.dropped[k], 0), N);
    assert.ok(s.lengths.chosen.mean > 0 && s.timing.seconds.total > 0);
  });

  it("reference log-probs equal an independent `sso score` of the same (prompt, response) pairs within 1e-4", () => {
    const records = readLines(full)
      .map((l) => SsoRecord.parse(l))
      .slice(0, 6);
    const pairs: Record<RefColumn, ["x" | "pos" | "neg", "chosen" | "rejected" | "raw"]> = {
      ref_chosen_logps: ["x", "chosen"],
      ref_rejected_logps: ["x", "rejected"],
      ref_pos_chosen_logps: ["pos", "chosen"],
      ref_pos_rejected_logps: ["pos", "rejected"],
      ref_neg_chosen_logps: ["neg", "chosen"],
      ref_neg_rejected_logps: ["neg", "rejected"],
      ref_neg_raw_logps: ["neg", "raw"],
    };
    const cols = [...REF_COLUMNS];
    const lines = records.flatMap((r) =>
      cols.map((col) => {
        const [v, a] = pairs[col];
        const system = v === "x" ? [] : [{ role: "system", content: v === "pos" ? r.system_pos : r.system_neg }];
        return JSON.stringify({ messages: [...system, ...r.prompt], response: r[a][0].content });
      }),
    );
    writeFileSync(join(work, "pairs.jsonl"), `${lines.join("\n")}\n`);
    const s = sso("score", "--model", model, "--data", join(work, "pairs.jsonl"), "--out", join(work, "scores.jsonl"));
    assert.equal(s.status, 0, s.stderr);
    const scores = readLines(join(work, "scores.jsonl")) as { logp: number; n_tokens: number }[];
    records.forEach((r, i) =>
      cols.forEach((col, j) => {
        const got = scores[i * cols.length + j];
        assert.ok(Math.abs(got.logp - r[col]) < 1e-4, `record ${r.id} ${col}: ${r[col]} vs sso score ${got.logp}`);
        assert.equal(got.n_tokens, r[`${pairs[col][1]}_n_tokens`]);
      }),
    );
  });

  it("a run killed mid-way and rerun equals the uninterrupted run byte for byte, summary counts included", async () => {
    const part = join(work, "part.jsonl");
    const child = spawnCli([...args(part)], { stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const next = () => {
      try {
        return (JSON.parse(readFileSync(`${part}.progress.json`, "utf8")) as { next_index: number }).next_index;
      } catch {
        return 0;
      }
    };
    const deadline = Date.now() + 60_000;
    while (next() < 8) {
      assert.ok(Date.now() < deadline, "timed out waiting for progress");
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill("SIGKILL");
    await exited;
    const done = next();
    assert.ok(done < N, `the run finished (${done} prompts) before it could be killed`);
    appendFileSync(part, '{"id": "torn", "prompt": [{"role": "us'); // a write cut short by the crash
    const again = sso(...args(part));
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`resuming: ${done} of ${N} prompts already done`));
    assert.equal(readFileSync(part, "utf8"), readFileSync(full, "utf8"));
    assert.deepEqual(withoutTiming(`${part}.summary.json`), withoutTiming(`${full}.summary.json`));
  });

  it("a rerun of a finished run changes nothing; a rerun with another seed is refused", () => {
    const before = readFileSync(full, "utf8");
    const r = sso(...args(full));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(full, "utf8"), before);
    const other = sso(...args(full, "--seed", "4"));
    assert.notEqual(other.status, 0);
    assert.match(
      other.stderr.trim(),
      /^sso: .*full\.jsonl: was started with other inputs \(config\.seed was 3, now 4\)/,
    );
    assert.equal(readFileSync(full, "utf8"), before);
  });

  it("a bad prompt line or config key is a one-line error naming it, and nothing is written", () => {
    writeFileSync(
      join(work, "bad.jsonl"),
      '{"prompt": "fine"}\n{"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]}\n',
    );
    writeFileSync(join(work, "bad.yaml"), "synth:\n  sampling:\n    temprature: 0.5\n");
    const cases: [string[], RegExp][] = [
      [["--prompts", join(work, "bad.jsonl")], /bad\.jsonl:2: messages\.0\.role: system messages are not supported/],
      [["--config", join(work, "bad.yaml")], /bad\.yaml: synth\.sampling\.temprature: unknown key/],
      [["--features", join(work, "missing.json")], /missing\.json: cannot read/],
    ];
    for (const [extra, re] of cases) {
      const out = join(work, "never.jsonl");
      const base = [
        "synth",
        "--model",
        model,
        "--prompts",
        join(work, "prompts.jsonl"),
        "--out",
        out,
        "--config",
        join(work, "synth.yaml"),
      ];
      const r = sso(...base, ...extra);
      assertOneLineError(r, re);
      assert.ok(!existsSync(out) && !existsSync(`${out}.progress.json`));
    }
  });
});
