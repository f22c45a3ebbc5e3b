// `sso synth --engine openai` against a spawned `sso serve` on 127.0.0.1 writes byte for byte the records (and,
// timing aside, the summary) of the in-process engine with the same seed; SIGTERM stops the server with exit 0.
// The remote engine against fake servers: retries 429/5xx with backoff, names URL and status on other errors,
// and says what a server lacks when it cannot score.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connectEngine } from "../../src/remote/connect.js";
import { Http } from "../../src/remote/http.js";
import { OpenAiEngine } from "../../src/remote/openai.js";
import { runCli, spawnCli, startServe, tempDir } from "../helpers.js";
import { makeTinyModel } from "../sso/helpers.js";

const withoutTiming = (path: string) => {
  const { timing: _, ...rest } = JSON.parse(readFileSync(path, "utf8"));
  return rest;
};
/** Runs the CLI without blocking this process (which serves the fake servers meanwhile). */
const runCliAsync = (args: string[]): Promise<{ status: number | null; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawnCli(args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("exit", (status) => resolve({ status, stderr }));
  });

describe("sso synth --engine openai against sso serve", () => {
  const work = tempDir("sso-remote-");
  const model = makeTinyModel(7, { hidden: 96, layers: 2, intermediate: 192 });
  const prompts = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify(
      i % 5 === 3
        ? {
            messages: [
              { role: "user", content: `Hi ${i}` },
              { role: "assistant", content: "Hello." },
              { role: "user", content: "More?" },
            ],
          }
        : { prompt: `Question ${i}: why is the sky blue?` },
    ),
  );
  writeFileSync(join(work, "prompts.jsonl"), `${prompts.join("\n")}\n`);
  writeFileSync(
    join(work, "synth.yaml"),
    "synth:\n  queryPrinciples: true\n  principles:\n    maxNewTokens: 8\n  selection:\n    maxNewTokens: 6\n  sampling:\n    maxNewTokens: 24\n",
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
    "5",
    "--seed",
    "3",
    ...extra,
  ];

  it("writes exactly the in-process records, and the server exits 0 on SIGTERM", async () => {
    const local = join(work, "local.jsonl"),
      remote = join(work, "remote.jsonl");
    const t0 = performance.now();
    const l = runCli(...args(local));
    assert.equal(l.status, 0, l.stderr);
    const tLocal = performance.now() - t0;

    const { server, url, exited } = await startServe(["--model", model, "--max-batch", "8", "--api-key", "s3cret"]);
    try {
      const t1 = performance.now();
      const r = await runCliAsync(
        args(
          remote,
          "--engine",
          "openai",
          "--base-url",
          `${url}/v1`,
          "--api-model",
          "model",
          "--api-key",
          "s3cret",
          "--concurrency",
          "8",
        ),
      );
      assert.equal(r.status, 0, r.stderr);
      console.log(`# local ${Math.round(tLocal)} ms, remote ${Math.round(performance.now() - t1)} ms`);
      assert.equal(readFileSync(remote, "utf8"), readFileSync(local, "utf8"));
      assert.deepEqual(withoutTiming(`${remote}.summary.json`), withoutTiming(`${local}.summary.json`));
      assert.ok(readFileSync(local, "utf8").split("\n").length > 6);
    } finally {
      server.kill("SIGTERM");
      assert.equal(await exited, 0);
    }
  });

  it("a bad --engine flag combination is a one-line error", () => {
    const r = runCli(...args(join(work, "x.jsonl"), "--engine", "openai"));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr.trim(), /^sso: --engine openai needs --base-url and --api-model$/);
  });
});

/** A fake OpenAI-compatible server answering each request with the next of `replies` (status, body). */
async function fake(replies: [number, unknown][]): Promise<{ url: string; server: Server; hits: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const [status, body] = replies[Math.min(n++, replies.length - 1)];
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server, hits: () => n };
}

describe("the openai engine", () => {
  const engine = (url: string) =>
    new OpenAiEngine({
      http: new Http(url.replace(/\/v1$/, ""), { backoffMs: 5, retries: 3 }),
      model: "m",
      maxPositions: 512,
      stopIds: [9],
      settings: {},
    });
  const request = {
    promptIds: [1, 2],
    params: { temperature: 0, topP: 1, topK: 0, maxNewTokens: 4, stop: [] },
    seed: 0,
  };
  const ok = { choices: [{ text: "hi", finish_reason: "stop", stop_reason: null, token_ids: [5, 6, 9] }] };

  it("retries 429 and 5xx with backoff, then succeeds; strips the end-of-sequence id", async () => {
    const f = await fake([
      [429, { error: { message: "slow down" } }],
      [503, {}],
      [200, ok],
    ]);
    try {
      const [r] = await engine(f.url).generate([request]);
      assert.deepEqual(r, { tokens: [5, 6], text: "hi", finishReason: "eos" });
      assert.equal(f.hits(), 3);
    } finally {
      f.server.close();
    }
  });

  it("names the URL and status of a client error, and gives up after bounded retries", async () => {
    const f = await fake([[400, { error: { message: "bad seed" } }]]);
    const g = await fake([[500, { error: { message: "boom" } }]]);
    try {
      await assert.rejects(
        engine(f.url).generate([request]),
        new RegExp(`POST ${f.url}/completions: HTTP 400: bad seed`),
      );
      await assert.rejects(engine(g.url).generate([request]), /HTTP 500: boom \(after 4 attempts\)/);
      assert.equal(g.hits(), 4);
    } finally {
      f.server.close();
      g.server.close();
    }
  });

  it("says what a server that cannot score lacks", async () => {
    const f = await fake([[200, { choices: [{ text: "x", finish_reason: "length" }] }]]);
    try {
      await assert.rejects(
        engine(f.url).score([{ promptIds: [1, 2], responseIds: [3] }], { maxBatchTokens: 100 }),
        /cannot score: it returned no per-token prompt_logprobs.*vLLM's prompt_logprobs/,
      );
    } finally {
      f.server.close();
    }
  });

  it("fails fast with the server's message on a 404 (an unknown model), never falling back to chat", async () => {
    const f = await fake([[404, { error: { message: "The model `m` does not exist.", code: 404 } }]]);
    try {
      await assert.rejects(engine(f.url).generate([request]), /HTTP 404: The model `m` does not exist\.$/);
      assert.equal(f.hits(), 1);
    } finally {
      f.server.close();
    }
  });

  it("treats a finish_reason other than stop/length as an error, and an integer stop_reason as end-of-sequence", async () => {
    const f = await fake([
      [200, { choices: [{ text: "hi", finish_reason: "stop", stop_reason: 9, token_ids: [5, 9] }] }],
      [200, { choices: [{ text: "", finish_reason: "abort", stop_reason: null, token_ids: [] }] }],
    ]);
    try {
      assert.deepEqual((await engine(f.url).generate([request]))[0], { tokens: [5], text: "hi", finishReason: "eos" });
      await assert.rejects(engine(f.url).generate([request]), /finish_reason "abort"/);
    } finally {
      f.server.close();
    }
  });

  it("reads vLLM's -9999.0 and sso serve's null log-prob as -Infinity, and scores many prompts per request", async () => {
    const lp = (v: number | null) => ({ "3": { logprob: v, rank: 1, decoded_token: "c" } });
    const f = await fake([
      [
        200,
        {
          choices: [0, 1].map((index) => ({
            index,
            text: "",
            prompt_logprobs: [null, lp(-1), index ? lp(null) : lp(-9999)],
          })),
        },
      ],
    ]);
    try {
      const items = [0, 1].map(() => ({ promptIds: [1, 3], responseIds: [3] }));
      const r = await engine(f.url).score(items, { maxBatchTokens: 100 });
      assert.deepEqual(
        r.map((x) => x.logp),
        [-Infinity, -Infinity],
      );
      assert.equal(f.hits(), 1);
    } finally {
      f.server.close();
    }
  });

  it("takes the context length from GET /v1/models and names the models a server has", async () => {
    const models = (owned_by: string) => ({ data: [{ id: "m", owned_by, max_model_len: 100 }] });
    const connect = (url: string, model = "m") =>
      connectEngine({ baseUrl: url, model, engine: "openai", maxPositions: 512, stopIds: [9], retries: 0 });
    const v = await fake([[200, models("vllm")]]),
      s = await fake([[200, models("sso")]]),
      g = await fake([[200, models("sglang")]]);
    try {
      const [ev, es, eg] = [await connect(v.url), await connect(s.url), await connect(g.url)];
      // vLLM generates a token after a scored prompt (max_tokens 1); sso serve scores with echo and max_tokens 0;
      // SGLang refuses inputs of context_len tokens.
      assert.deepEqual([ev.maxPositions, ev.maxScoreLength], [100, 99]);
      assert.deepEqual([es.maxPositions, es.maxScoreLength], [100, 100]);
      assert.deepEqual([eg.maxPositions, eg.maxScoreLength, eg.settings.engine], [99, 99, "sglang"]);
      await assert.rejects(
        connect(v.url, "x"),
        /^Error: --api-model "x": .*\/v1\/models does not list it \(the server has "m"\)$/,
      );
    } finally {
      for (const x of [v, s, g]) x.server.close();
    }
  });
});
