// Wrong results that look right (issue 30, items 4–6), reproduced as a user meets them: a model whose weights hold
// NaN is refused by score, eval, synth and serve instead of writing `logp: null`; an adapter whose target_modules
// disagrees with its tensors is refused instead of applying every tensor; a reward is read at the token
// apply_chat_template(conversation) + transformers' last-non-pad rule picks (test/rm/position.test.ts has the rest).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, saveModel } from "../../src/model/folder.js";
import { attachLora, initLora, LoraSettings } from "../../src/model/lora.js";
import { ADAPTER_CONFIG, writeAdapter } from "../../src/model/peft.js";
import { readSafetensors, writeSafetensors } from "../../src/model/safetensors.js";
import { scoreForward } from "../../src/rm/head.js";
import { rewardModelFromCausal } from "../../src/rm/model.js";
import { type RunningServer, serve } from "../../src/serve/server.js";
import { SYNTH_DEFAULTS } from "../../src/sso/config.js";
import { synthesize } from "../../src/sso/synth.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { assertOneLineError, makeTinyModel, runCli, tempDir } from "../helpers.js";

/**
 * A tiny model with one NaN written into its weights: in the final norm ("norm": every hidden state and logit is
 * NaN, nothing can be sampled), or in the (tied) embedding row of token 200 ("row": that token's logit is NaN, so
 * every log-prob is, while sampling still finds finite logits to pick from).
 */
function makeNanModel(where: "norm" | "row"): string {
  const dir = makeTinyModel(3);
  const file = readdirSync(dir).find((f) => f.endsWith(".safetensors"))!;
  const tensors = [...readSafetensors(join(dir, file))].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  if (where === "norm") tensors.find((t) => t.name === "model.norm.weight")!.data[0] = Number.NaN;
  else {
    const emb = tensors.find((t) => t.name === "model.embed_tokens.weight")!;
    emb.data.fill(Number.NaN, 200 * emb.shape[1], 201 * emb.shape[1]);
  }
  writeSafetensors(join(dir, file), tensors, { dtype: "F32" });
  return dir;
}

describe("item 4: a NaN model is an error naming it, never a null log-prob", () => {
  const work = tempDir("sso-rel-nan-");
  const nan = makeNanModel("norm"),
    row = makeNanModel("row");
  const chat = JSON.stringify({ messages: [{ role: "user", content: "Hi?" }], response: "Hello." });

  it("sso score: one line naming the model folder and FILE:LINE; no output written", () => {
    const data = join(work, "score.jsonl"),
      out = join(work, "scores.jsonl");
    writeFileSync(data, `${JSON.stringify({ prompt_ids: [5, 6, 7], response_ids: [8, 9] })}\n${chat}\n`);
    for (const m of [nan, row]) {
      const r = runCli("score", "--model", m, "--data", data, "--out", out);
      assertOneLineError(r, `${m}: the log-prob of ${data}:1 is NaN: the model's weights hold NaN`);
      assert.ok(!existsSync(out));
    }
  });

  it("sso eval --data: one line naming the model folder (no finite logit to sample, or a NaN log-prob)", () => {
    const data = join(work, "eval.jsonl"),
      out = join(work, "e.json");
    writeFileSync(data, `${JSON.stringify({ prompt: "What is 2+2?", answer: "4" })}\n`);
    const r = runCli("eval", "--model", nan, "--data", data, "--max-new-tokens", "4", "--out", out);
    assertOneLineError(r, `${nan}: the model's logits are not finite (NaN): its weights hold NaN`);
    const r2 = runCli("eval", "--model", row, "--data", data, "--max-new-tokens", "4", "--out", out);
    assertOneLineError(r2, `${row}: the log-prob of a token of the answer to ${data}:1 is NaN`);
    assert.ok(!existsSync(out));
  });

  it("synth: sampling or reference scoring stops at the first non-finite value, naming the model", () => {
    const config = {
      ...SYNTH_DEFAULTS,
      batch: 2,
      selection: { ...SYNTH_DEFAULTS.selection, maxNewTokens: 4 },
      sampling: { ...SYNTH_DEFAULTS.sampling, maxNewTokens: 4 },
    };
    const prompts = [{ index: 0, id: "p0", messages: [{ role: "user", content: "Why?" }] }];
    const run = (dir: string) =>
      synthesize(loadModel(dir, getBackend("cpu")), Tokenizer.fromDir(dir), prompts, config, {
        policy: { model: dir, hash: "0".repeat(64) },
      });
    assert.throws(() => run(nan), { message: new RegExp(`^${nan}: the model's logits are not finite \\(NaN\\)`) });
    assert.throws(() => run(row), { message: new RegExp(`^${row}: the log-prob of pair \\w+ of prompt p0 is NaN`) });
  });

  describe("sso serve: HTTP 500 in OpenAI's error shape (an error event mid-stream), and the server lives on", () => {
    let s: RunningServer;
    before(async () => {
      s = await serve({
        model: loadModel(row, getBackend("cpu")),
        tok: Tokenizer.fromDir(row),
        modelName: "nan",
        port: 0,
        maxBatch: 2,
        maxQueue: 8,
      });
    });
    after(() => s.close());
    const post = (path: string, body: unknown) =>
      fetch(`${s.url}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      });

    it("completions with logprobs, echo + prompt_logprobs, chat with logprobs: 500 with the reason", async () => {
      for (const [path, body] of [
        ["/v1/completions", { prompt: "Hello", max_tokens: 3, logprobs: 1 }],
        ["/v1/completions", { prompt: "Hello there", max_tokens: 0, echo: true, logprobs: 0, prompt_logprobs: 0 }],
        ["/v1/chat/completions", { messages: [{ role: "user", content: "Hi" }], max_tokens: 3, logprobs: true }],
      ] as const) {
        const res = await post(path, body);
        const json = (await res.json()) as { error?: { message: string; type: string; code: number } };
        assert.equal(res.status, 500, `${path}: ${JSON.stringify(json)}`);
        assert.match(json.error!.message, /the model's log-prob of (generated|prompt) token \d+ is NaN/, path);
        assert.equal(json.error!.type, "server_error");
      }
    });

    it("a stream with logprobs ends with an error event, not a chunk holding a null log-prob", async () => {
      const res = await post("/v1/completions", { prompt: "Hello", max_tokens: 3, logprobs: 0, stream: true });
      const text = await res.text();
      assert.ok(!text.includes('"token_logprobs":[null]'), text);
      assert.match(text, /"error":\{"message":"internal error: the model's log-prob of generated token 1 is NaN/);
      // The server still answers.
      const models = await fetch(`${s.url}/v1/models`);
      assert.equal(models.status, 200);
    });

    it("a model with no finite logit: a completion without log-probs is a 500 too, not garbage text", async () => {
      const s2 = await serve({
        model: loadModel(nan, getBackend("cpu")),
        tok: Tokenizer.fromDir(nan),
        modelName: "nan",
        port: 0,
      });
      try {
        const res = await fetch(`${s2.url}/v1/completions`, {
          method: "POST",
          body: JSON.stringify({ prompt: "Hello", max_tokens: 3 }),
          headers: { "content-type": "application/json" },
        });
        const json = (await res.json()) as { error?: { message: string } };
        assert.equal(res.status, 500);
        assert.match(json.error!.message, /the model's logits are not finite \(NaN\)/);
      } finally {
        await s2.close();
      }
    });
  });
});

describe("item 5: an adapter's target_modules decides what it adapts", () => {
  it("sso score --adapter: tensors for all seven modules, a config listing q_proj and v_proj → one line", () => {
    const work = tempDir("sso-rel-adapter-"),
      dir = makeTinyModel(7, { layers: 2, hidden: 32, intermediate: 48 }),
      adapter = join(work, "adapter");
    const m = loadModel(dir, getBackend("cpu")),
      s = LoraSettings.parse({ r: 2, alpha: 4 });
    attachLora(m, s, initLora(m.config, s, 1), "test");
    writeAdapter(adapter, m, { baseModel: dir });
    const cfg = JSON.parse(readFileSync(join(adapter, ADAPTER_CONFIG), "utf8"));
    writeFileSync(join(adapter, ADAPTER_CONFIG), JSON.stringify({ ...cfg, target_modules: ["q_proj", "v_proj"] }));
    mkdirSync(join(work, "d"));
    const data = join(work, "d", "in.jsonl");
    writeFileSync(data, `${JSON.stringify({ prompt_ids: [5, 6, 7], response_ids: [8, 9] })}\n`);
    const r = runCli("score", "--model", dir, "--adapter", adapter, "--data", data, "--out", join(work, "o.jsonl"));
    assertOneLineError(
      r,
      /adapter\/adapter_model\.safetensors: tensor base_model\.model\.model\.layers\.0\.\w+\.(k|o|gate|up|down)_proj\.lora_A\.weight adapts \w+, which target_modules in adapter_config\.json does not select \(it selects q_proj, v_proj\)/,
    );
    writeFileSync(join(adapter, ADAPTER_CONFIG), JSON.stringify({ ...cfg, target_modules: ["foo_proj"] }));
    assertOneLineError(
      runCli("score", "--model", dir, "--adapter", adapter, "--data", data, "--out", join(work, "o.jsonl")),
      /adapter_config\.json: target_modules lists "foo_proj", which names no module/,
    );
  });
});

describe("item 6: a reward is read where transformers and TRL read it", () => {
  it("sso rm score on a ChatML RM: the score at the last token of apply_chat_template(conversation), not at <|im_end|>", () => {
    const work = tempDir("sso-rel-rm-"),
      lm = makeTinyModel(9),
      dir = join(work, "rm");
    const tok = Tokenizer.fromDir(lm);
    saveModel(rewardModelFromCausal(loadModel(lm, getBackend("cpu")), tok.padId!, 4), dir, {
      dtype: "F32",
      carryFrom: lm,
    });
    const messages = [{ role: "user", content: "Why is the sky blue?" }],
      response = "Rayleigh scattering.";
    const data = join(work, "in.jsonl"),
      out = join(work, "rewards.jsonl");
    writeFileSync(data, `${JSON.stringify({ messages, response })}\n`);
    const r = runCli("rm", "score", "--model", dir, "--data", data, "--out", out);
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(readFileSync(out, "utf8")).reward as number;
    // apply_chat_template(messages + [assistant]) and the score head at each of its last two tokens.
    const ids = tok.encode(
      tok.applyChatTemplate([...messages, { role: "assistant", content: response }], { addGenerationPrompt: false }),
    );
    const rm = loadModel(dir, getBackend("cpu"));
    const at = (row: number) =>
      scoreForward(rm.forwardRows([{ ids, row }]).hidden, rm.params.get("score.weight")!, 1, rm.config.hiddenSize)[0];
    assert.equal(tok.decode([ids[ids.length - 2]]), "<|im_end|>");
    assert.ok(Math.abs(got - at(ids.length - 1)) < 1e-5, `${got} vs ${at(ids.length - 1)}`);
    assert.ok(Math.abs(got - at(ids.length - 2)) > 1e-4, "not the <|im_end|> token's score");
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.equal(cfg.sso_reward_position, "last_token");
    // An RM trained before the change, marked by hand, is still read with its own (end-of-turn) convention.
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, sso_reward_position: "end_of_turn" }));
    const old = join(work, "old.jsonl");
    assert.equal(runCli("rm", "score", "--model", dir, "--data", data, "--out", old).status, 0);
    const { promptIds, responseIds } = tok.encodeChat(messages, response);
    const eot = [...promptIds, ...responseIds];
    const atOld = scoreForward(
      rm.forwardRows([{ ids: eot, row: eot.length - 1 }]).hidden,
      rm.params.get("score.weight")!,
      1,
      rm.config.hiddenSize,
    )[0];
    assert.ok(Math.abs(JSON.parse(readFileSync(old, "utf8")).reward - atOld) < 1e-5);
  });
});
