// Contract tests of the remote engines against fake vLLM and SGLang servers (test/remote/fakes.ts: their exact
// request checks and response shapes, with the numbers of an in-process `sso serve`). `sso synth --engine openai`
// against each (SGLang detected from GET /v1/models) writes the in-process run's records, reference log-probs
// included; every request pins every sampling field and sends the tokenizer's stop ids; scoring sends many prompts
// per request with prompt_logprobs 1 (vLLM) or /generate's input log-probs (SGLang); a server with a smaller
// context skips the items that do not fit (counted as too_long) instead of failing the run.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { type RunningServer, serve } from "../../src/serve/server.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { runCli, spawnCli, tempDir } from "../helpers.js";
import { makeTinyModel } from "../sso/helpers.js";
import { type Fake, fakeSglang, fakeVllm } from "./fakes.js";

const runCliAsync = (args: string[]): Promise<{ status: number | null; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawnCli(args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("exit", (status) => resolve({ status, stderr }));
  });

const SAMPLING = [
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "repetition_penalty",
  "presence_penalty",
  "frequency_penalty",
];

describe("sso synth against fake vLLM and SGLang servers", () => {
  const work = tempDir("sso-contract-");
  const modelDir = makeTinyModel(7, { hidden: 96, layers: 2, intermediate: 192 });
  const tok = Tokenizer.fromDir(modelDir);
  const prompts = Array.from({ length: 6 }, (_, i) =>
    JSON.stringify({ prompt: `Question ${i}: why is the sky blue?` }),
  );
  writeFileSync(join(work, "prompts.jsonl"), `${prompts.join("\n")}\n`);
  writeFileSync(
    join(work, "synth.yaml"),
    "synth:\n  queryPrinciples: true\n  principles:\n    maxNewTokens: 8\n  selection:\n    maxNewTokens: 6\n  sampling:\n    maxNewTokens: 24\n",
  );
  const args = (out: string, ...extra: string[]) => [
    "synth",
    "--model",
    modelDir,
    "--prompts",
    join(work, "prompts.jsonl"),
    "--out",
    out,
    "--config",
    join(work, "synth.yaml"),
    "--batch",
    "3",
    "--seed",
    "3",
    ...extra,
  ];
  const remote = (f: Fake, out: string, engine = "openai") =>
    runCliAsync(
      args(out, "--engine", engine, "--base-url", `${f.url}/v1`, "--api-model", "Qwen/tiny", "--concurrency", "4"),
    );
  const records = (path: string) =>
    readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const REF = /^ref_/;

  let inner: RunningServer;
  const local = join(work, "local.jsonl");
  before(async () => {
    const l = runCli(...args(local));
    assert.equal(l.status, 0, l.stderr);
    inner = await serve({
      model: loadModel(modelDir, getBackend("cpu")),
      tok,
      modelName: "inner",
      port: 0,
      maxQueue: 4096,
    });
  });
  after(() => inner.close());

  /** The records equal the local ones; the reference log-probs to float tolerance, everything else exactly. */
  const assertSameRecords = (path: string) => {
    const a = records(path),
      b = records(local);
    assert.equal(a.length, b.length);
    assert.ok(a.length > 0);
    a.forEach((r, i) => {
      for (const [k, v] of Object.entries(b[i]))
        if (REF.test(k) && typeof v === "number")
          assert.ok(Math.abs((r[k] as number) - v) < 1e-4, `${k}: ${r[k]} vs ${v}`);
        else assert.deepEqual(r[k], v, k);
    });
  };

  for (const [kind, start, engine] of [
    ["vLLM", fakeVllm, "openai"],
    ["SGLang (detected)", fakeSglang, "openai"],
    ["SGLang (--engine sglang)", fakeSglang, "sglang"],
  ] as const) {
    it(`writes the local records against ${kind}, pinning sampling and batching scoring`, async () => {
      const f = await start(inner.url, "Qwen/tiny", 4096);
      try {
        const out = join(work, `${kind.replace(/\W+/g, "-")}.jsonl`);
        const r = await remote(f, out, engine);
        assert.equal(r.status, 0, r.stderr);
        assertSameRecords(out);
        assert.deepEqual(f.refused, []);
        const isSgl = kind.startsWith("SGLang");
        const calls = f.log.filter((q) => q.path !== "/v1/models");
        const gens = calls.filter((q) =>
          isSgl
            ? (q.body.sampling_params as { max_new_tokens?: number }).max_new_tokens
            : !("prompt_logprobs" in q.body),
        );
        const scores = calls.filter((q) => !gens.includes(q));
        assert.ok(gens.length > 0 && scores.length > 0);
        for (const g of gens) {
          const sp = (isSgl ? g.body.sampling_params : g.body) as Record<string, unknown>;
          for (const k of SAMPLING) assert.equal(typeof sp[k], "number", `${k} is sent`);
          assert.deepEqual(sp.stop_token_ids, tok.stopIds);
          assert.equal(typeof sp[isSgl ? "sampling_seed" : "seed"], "number");
        }
        for (const s of scores) {
          if (isSgl) assert.equal(s.body.return_logprob, true);
          else assert.equal(s.body.prompt_logprobs, 1);
        }
        // 6 prompts × 7 pairs in 2 chunks: a few requests, not one per pair.
        const scored = scores.reduce((n, s) => n + ((s.body.input_ids ?? s.body.prompt) as unknown[]).length, 0);
        assert.ok(scores.length * 4 <= scored, `${scores.length} scoring requests for ${scored} pairs`);
      } finally {
        await f.close();
      }
    });
  }

  it("skips what does not fit a server with a smaller context, never failing the run", async () => {
    for (const start of [fakeVllm, fakeSglang]) {
      const f = await start(inner.url, "Qwen/tiny", 300);
      try {
        const out = join(work, `short-${start.name}.jsonl`);
        const r = await remote(f, out);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(f.refused, [], "nothing over-long is sent");
        const summary = JSON.parse(readFileSync(`${out}.summary.json`, "utf8")) as { dropped: { too_long: number } };
        assert.ok(summary.dropped.too_long > 0);
      } finally {
        await f.close();
      }
    }
  });
});
