// The shipped demo model (models/sso-demo, written by `npm run make-demo-model`), when present: it loads, matches
// the script's recipe, carries a ChatML template with <|im_end|> as end of turn, and answers a held-out world prompt
// greedily with a short, finished answer. Skipped in a checkout without the folder.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, readConfig } from "../../src/model/folder.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { packageRoot } from "../../src/util/package-root.js";
import { answerAll, heldOutPrompts } from "../../src/world/index.js";
import { DEMO, DEMO_DIR } from "../../tools/make-demo-model.js";

const dir = join(packageRoot(), DEMO_DIR);
const present = existsSync(join(dir, "model.safetensors"));

describe("shipped demo model", { skip: present ? false : `${DEMO_DIR} not built (npm run make-demo-model)` }, () => {
  it("matches the recipe and has a ChatML template", () => {
    const c = readConfig(dir);
    for (const [k, v] of Object.entries(DEMO.model)) assert.deepEqual(c.raw[k], v, `config.json ${k}`);
    const tok = Tokenizer.fromDir(dir);
    assert.equal(c.vocabSize, tok.vocabSize);
    assert.equal(
      tok.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true }),
      "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    );
    assert.deepEqual(tok.endOfTurn.text, "<|im_end|>");
    assert.ok(tok.stopIds.includes(tok.tokenToId("<|im_end|>")!));
  });

  it("answers a held-out world prompt greedily", () => {
    const model = loadModel(dir, getBackend("cpu"));
    const tok = Tokenizer.fromDir(dir);
    const [p] = heldOutPrompts(DEMO.seed, 1);
    const [r] = answerAll(model, tok, [[{ role: "user", content: p.text }]], { maxNewTokens: 64 });
    assert.equal(r.finishReason, "eos", `unfinished answer ${JSON.stringify(r.text)}`);
    assert.ok(r.text.trim().length > 0);
  });
});
