// SFT from scratch on world conversations: a tiny model's response-token loss falls within a few steps, batches
// respect their token budget, and only the assistant's last turn is scored.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { trainBpe } from "../../src/demo/bpe.js";
import { makeBatches, tokenizeConversations, trainSft } from "../../src/demo/pretrain.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel } from "../../src/model/folder.js";
import { Rng } from "../../src/tensor/rng.js";
import { makeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeCorpus } from "../../src/world/index.js";

const corpus = makeCorpus(5, 64, undefined, { mix: { pos: 0, neg: 0, plain: 1, select: 0 } });
const merges = trainBpe(
  corpus.map((e) => e.messages.map((m) => m.content).join("\n")),
  100,
);
const tok = Tokenizer.fromFiles(makeByteLevelTokenizer({ merges }));
const examples = tokenizeConversations(
  tok,
  corpus.map((e) => e.messages),
);

describe("demo SFT", () => {
  it("scores the last assistant turn, ending in the end-of-turn token", () => {
    const e = examples[0];
    assert.equal(tok.decode(e.responseIds), `${corpus[0].messages[1].content}<|im_end|>`);
    assert.ok(tok.decode(e.promptIds).endsWith("<|im_start|>assistant\n"));
    assert.throws(
      () => tokenizeConversations(tok, [[{ role: "user", content: "hi" }]]),
      /last message must be the assistant's/,
    );
  });

  it("packs batches within the token budget, every example once", () => {
    const batches = makeBatches(examples, 200, new Rng(1));
    assert.equal(batches.flat().length, examples.length);
    for (const b of batches)
      if (b.length > 1) assert.ok(b.reduce((s, e) => s + e.promptIds.length + e.responseIds.length, 0) <= 200);
  });

  it("the response loss decreases over a handful of steps", () => {
    const config = parseConfig({
      model_type: "qwen2",
      vocab_size: tok.vocabSize,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      tie_word_embeddings: true,
      max_position_embeddings: 256,
    });
    const model = initModel(config, 1, getBackend("cpu"));
    const r = trainSft(model, examples.slice(0, 16), {
      epochs: 30,
      batchTokens: 1 << 20,
      lr: 1e-2,
      warmupSteps: 2,
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 1,
    });
    assert.equal(r.steps, 30);
    assert.ok(r.losses.every(Number.isFinite));
    assert.ok(r.losses[29] < 0.6 * r.losses[0], `loss ${r.losses[0]} → ${r.losses[29]}`);
  });
});
