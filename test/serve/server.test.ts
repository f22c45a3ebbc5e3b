// `sso serve`'s HTTP API in-process on 127.0.0.1 (a free port), driven by the official `openai` client and by raw
// requests: models list, chat completion, streaming, completions with vLLM's prompt_logprobs (equal to our own
// scoring), seeded sampling independent of concurrent traffic, a table of malformed requests (400 each, the
// server still alive), 401 without the API key, and 429 when the queue is full.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { scoreItems } from "../../src/model/score.js";
import { type RunningServer, serve } from "../../src/serve/server.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeTinyModel } from "../sso/helpers.js";

const dir = makeTinyModel(5);
const model = loadModel(dir, getBackend("cpu"));
const tok = Tokenizer.fromDir(dir);

const post = async (s: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
  return {
    status: res.status,
    json: (await res.json()) as { error?: { message: string }; choices?: { text: string }[] },
  };
};

describe("sso serve API", () => {
  let s: RunningServer;
  let client: OpenAI;
  before(async () => {
    s = await serve({ model, tok, modelName: "tiny", port: 0, maxBatch: 4, maxQueue: 32, apiKey: "k1" });
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "k1", maxRetries: 0 });
  });
  after(() => s.close());

  it("lists its model", async () => {
    const list = await client.models.list();
    assert.deepEqual(
      list.data.map((m) => m.id),
      ["tiny"],
    );
  });

  it("answers a chat completion, and the same seed gives the same answer", async () => {
    const ask = () =>
      client.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "Hello?" }],
        max_tokens: 12,
        seed: 7,
        temperature: 0.8,
      });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(a.choices[0].message.role, "assistant");
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    assert.ok(["stop", "length"].includes(a.choices[0].finish_reason));
    assert.ok(a.usage!.completion_tokens > 0 && a.usage!.prompt_tokens > 0);
  });

  it("streams a chat completion whose pieces add up to the unstreamed answer", async () => {
    const req = {
      model: "tiny",
      messages: [{ role: "user" as const, content: "Stream please" }],
      max_tokens: 16,
      seed: 3,
      temperature: 0.9,
    };
    const whole = await client.chat.completions.create(req);
    const stream = await client.chat.completions.create({ ...req, stream: true });
    let text = "",
      finish: string | null = null,
      chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(chunks > 2);
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(finish, whole.choices[0].finish_reason);
  });

  it("returns vLLM-style prompt_logprobs for token-id prompts equal to scoreItems", async () => {
    const promptIds = tok.encode("The sky is"),
      responseIds = tok.encode(" blue.");
    const ids = [...promptIds, ...responseIds];
    const r = await client.completions.create({
      model: "tiny",
      prompt: ids,
      max_tokens: 1,
      temperature: 0,
      prompt_logprobs: 1,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    const lps = (
      r.choices[0] as unknown as { prompt_logprobs: (Record<string, { logprob: number; rank: number }> | null)[] }
    ).prompt_logprobs;
    assert.equal(lps.length, ids.length);
    assert.equal(lps[0], null);
    const [ref] = scoreItems(model, [{ promptIds, responseIds }]);
    responseIds.forEach((id, j) => assert.equal(lps[promptIds.length + j]![String(id)].logprob, ref.token_logps[j]));
    assert.ok(lps.slice(1).every((e) => Object.values(e!).some((v) => v.rank === 1)));
  });

  it("echoes text prompts with logprobs for prompt and completion tokens", async () => {
    const r = await client.completions.create({
      model: "tiny",
      prompt: "abc",
      max_tokens: 3,
      echo: true,
      logprobs: 2,
      seed: 1,
    });
    const c = r.choices[0];
    assert.ok(c.text.startsWith("abc"));
    assert.equal(c.logprobs!.token_logprobs![0], null);
    assert.equal(c.logprobs!.tokens!.length, 3 + r.usage!.completion_tokens);
    assert.ok(c.logprobs!.top_logprobs!.slice(1).every((t) => Object.keys(t!).length <= 2));
  });

  it("puts a chat answer's prompt_token_ids at the top level and token_ids per choice, as vLLM does", async () => {
    const r = await post(
      s,
      "/v1/chat/completions",
      {
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 3,
        seed: 1,
        return_token_ids: true,
      },
      { authorization: "Bearer k1" },
    );
    const j = r.json as unknown as { prompt_token_ids: number[]; choices: Record<string, unknown>[] };
    assert.deepEqual(j.prompt_token_ids, tok.encodePrompt([{ role: "user", content: "Hi" }]));
    assert.ok(Array.isArray(j.choices[0].token_ids) && !("prompt_token_ids" in j.choices[0]));
  });

  it("scores a prompt without generating with echo and max_tokens 0, -inf as vLLM's -9999.0", async () => {
    const r = await post(
      s,
      "/v1/completions",
      { prompt: [1, 2, 3], echo: true, max_tokens: 0, prompt_logprobs: 1 },
      { authorization: "Bearer k1" },
    );
    const c = (r.json.choices as unknown as { prompt_logprobs: (Record<string, { logprob: number }> | null)[] }[])[0];
    assert.equal(r.status, 200);
    assert.equal(c.prompt_logprobs.length, 3);
    assert.ok(Object.values(c.prompt_logprobs[2]!).every((e) => typeof e.logprob === "number" && e.logprob >= -9999));
  });

  const MALFORMED: [string, string, unknown, RegExp][] = [
    ["not JSON", "/v1/completions", "{bad", /invalid JSON/],
    ["an array body", "/v1/completions", [1, 2], /JSON object/],
    ["no prompt", "/v1/completions", { max_tokens: 2 }, /prompt/],
    ["a negative max_tokens", "/v1/completions", { prompt: "x", max_tokens: -1 }, /max_tokens/],
    ["a string temperature", "/v1/completions", { prompt: "x", temperature: "hot" }, /temperature/],
    ["top_p above 1", "/v1/completions", { prompt: "x", top_p: 2 }, /top_p/],
    ["a token id outside the vocabulary", "/v1/completions", { prompt: [1, 10_000_000] }, /outside the vocabulary/],
    ["an empty token list", "/v1/completions", { prompt: [] }, /prompt/],
    [
      "a prompt longer than the context",
      "/v1/completions",
      { prompt: Array(5000).fill(3), max_tokens: 1 },
      /maximum context length/,
    ],
    ["max_tokens past the context", "/v1/completions", { prompt: "x", max_tokens: 100_000 }, /maximum context length/],
    ["n = 2", "/v1/completions", { prompt: "x", n: 2 }, /\bn\b/],
    ["a presence penalty", "/v1/completions", { prompt: "x", presence_penalty: 1 }, /presence_penalty/],
    // Where vLLM refuses, so do we (vllm/entrypoints/openai/completion/protocol.py), rather than ignore a field.
    ["max_tokens 0 without echo", "/v1/completions", { prompt: [1, 2], max_tokens: 0, prompt_logprobs: 1 }, /echo/],
    [
      "prompt_logprobs when streaming",
      "/v1/completions",
      { prompt: [1, 2], stream: true, prompt_logprobs: 1 },
      /`prompt_logprobs` are not available when `stream=True`/,
    ],
    ["a repetition penalty", "/v1/completions", { prompt: "x", repetition_penalty: 1.05 }, /repetition_penalty/],
    ["a min_p", "/v1/completions", { prompt: "x", min_p: 0.05 }, /min_p/],
    ["a foreign stop token id", "/v1/completions", { prompt: "x", stop_token_ids: [7] }, /stop_token_ids: 7/],
    ["no messages", "/v1/chat/completions", { messages: [] }, /messages/],
    ["an unknown role", "/v1/chat/completions", { messages: [{ role: "wizard", content: "hi" }] }, /role/],
    ["content of the wrong type", "/v1/chat/completions", { messages: [{ role: "user", content: 5 }] }, /content/],
    [
      "logprobs not a boolean",
      "/v1/chat/completions",
      { messages: [{ role: "user", content: "hi" }], logprobs: 3 },
      /logprobs/,
    ],
  ];
  for (const [what, path, body, message] of MALFORMED) {
    it(`answers 400 with a message for ${what}`, async () => {
      const r = await post(s, path, body, { authorization: "Bearer k1" });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(r.json.error!.message, message);
    });
  }

  it("is still alive after all that, answers 404 for an unknown model or route, and 401 without the key", async () => {
    assert.equal(
      (await post(s, "/v1/completions", { prompt: "x", max_tokens: 1 }, { authorization: "Bearer k1" })).status,
      200,
    );
    assert.equal(
      (await post(s, "/v1/completions", { model: "other", prompt: "x" }, { authorization: "Bearer k1" })).status,
      404,
    );
    assert.equal((await post(s, "/v1/nothing", {}, { authorization: "Bearer k1" })).status, 404);
    const r = await post(s, "/v1/completions", { prompt: "x" });
    assert.equal(r.status, 401);
    assert.match(r.json.error!.message, /API key/);
  });
});

describe("sso serve queue", () => {
  it("answers 429 when the queue is full and serves the rest", async () => {
    const s = await serve({ model, tok, modelName: "tiny", port: 0, maxBatch: 1, maxQueue: 2 });
    try {
      const rs = await Promise.all(
        Array.from({ length: 8 }, (_, i) => post(s, "/v1/completions", { prompt: `q${i}`, max_tokens: 40, seed: i })),
      );
      const codes = rs.map((r) => r.status);
      assert.ok(codes.includes(429), codes.join(","));
      assert.ok(codes.includes(200), codes.join(","));
      assert.ok(
        codes.every((c) => c === 200 || c === 429),
        codes.join(","),
      );
      assert.match(rs.find((r) => r.status === 429)!.json.error!.message, /queue is full/);
    } finally {
      await s.close();
    }
  });
});
