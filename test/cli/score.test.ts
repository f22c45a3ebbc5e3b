// `sso score` end to end through the real CLI process: agreement with the golden PyTorch log-probs, the chat
// form through a real tokenizer and ChatML template, and one-line errors with nothing written on bad input.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readSafetensors } from "../../src/model/safetensors.js";
import { writeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { packageRoot } from "../../src/util/package-root.js";
import { assertClose, assertOneLineError, runCli, tempDir } from "../helpers.js";

const ROOT = packageRoot();
const GOLDEN = join(ROOT, "test", "fixtures", "golden");
const tmp = (): string => tempDir("sso-score-");

const sso = runCli;

function patchConfig(dir: string, patch: Record<string, unknown>): void {
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), ...patch }));
}

const readLines = (path: string): { logp: number; n_tokens: number; token_logps: number[] }[] =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("sso score", () => {
  it("token ids in, golden PyTorch log-probs out (every scored position, two split points)", () => {
    const dir = join(GOLDEN, "tiny-llama"),
      work = tmp();
    const { sequences } = JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")) as { sequences: number[][] };
    const golden = readSafetensors(join(dir, "golden.safetensors"));
    const V = 61;
    const lines = sequences.flatMap((ids) =>
      [1, 2].filter((k) => k < ids.length).map((k) => ({ prompt_ids: ids.slice(0, k), response_ids: ids.slice(k) })),
    );
    writeFileSync(join(work, "in.jsonl"), `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const r = sso("score", "--model", dir, "--data", join(work, "in.jsonl"), "--out", join(work, "out.jsonl"));
    assert.equal(r.status, 0, r.stderr);
    const out = readLines(join(work, "out.jsonl"));
    assert.equal(out.length, lines.length);
    let li = 0;
    sequences.forEach((ids, s) => {
      const logits = golden.get(`logits.${s}`)!.data;
      const logpAt = (t: number): number => {
        // log p(ids[t] | ids[<t]) from the golden logits of row t−1
        const row = logits.subarray((t - 1) * V, t * V);
        const max = Math.max(...row);
        return row[ids[t]] - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      };
      for (const k of [1, 2].filter((k) => k < ids.length)) {
        const want = ids.slice(k).map((_, i) => logpAt(k + i));
        assert.equal(out[li].n_tokens, want.length);
        assertClose(out[li].token_logps, want, { rtol: 1e-4, atol: 1e-4 }, `sequence ${s} from ${k}`);
        assertClose(
          [out[li].logp],
          [want.reduce((a, b) => a + b, 0)],
          { rtol: 1e-4, atol: 1e-4 },
          `sum ${s} from ${k}`,
        );
        li++;
      }
    });
  });

  it("chat messages are scored as template-rendered prompt + response + end-of-turn token", () => {
    const work = tmp(),
      model = join(work, "model");
    writeByteLevelTokenizer(join(work, "tok"));
    const tok = Tokenizer.fromDir(join(work, "tok"));
    const config = JSON.parse(readFileSync(join(GOLDEN, "tiny-qwen2", "config.json"), "utf8"));
    writeFileSync(join(work, "config.json"), JSON.stringify({ ...config, vocab_size: tok.vocabSize }));
    assert.equal(
      sso(
        "init-model",
        "--config",
        join(work, "config.json"),
        "--out",
        model,
        "--seed",
        "5",
        "--tokenizer-from",
        join(work, "tok"),
      ).status,
      0,
    );
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Name a colour." },
    ];
    const { promptIds, responseIds } = tok.encodeChat(messages, "Blue.");
    assert.deepEqual(responseIds, [...tok.encode("Blue."), ...tok.endOfTurn.ids]);
    const input = [
      { messages, response: "Blue." },
      { prompt_ids: promptIds, response_ids: responseIds },
    ];
    writeFileSync(join(work, "in.jsonl"), input.map((l) => JSON.stringify(l)).join("\n"));
    const r = sso(
      "score",
      "--model",
      model,
      "--data",
      join(work, "in.jsonl"),
      "--out",
      join(work, "out.jsonl"),
      "--backend",
      "ref",
    );
    assert.equal(r.status, 0, r.stderr);
    const [chat, ids] = readLines(join(work, "out.jsonl"));
    assert.equal(chat.n_tokens, "Blue.".length + 1); // one byte-level token per ASCII byte, plus <|im_end|>
    assert.deepEqual(chat, ids);
  });

  it("a malformed line is a one-line error naming its line number, and nothing is written", () => {
    const work = tmp(),
      dir = join(GOLDEN, "tiny-llama"),
      out = join(work, "out.jsonl");
    const cases: [string, string][] = [
      ['{"prompt_ids":[1],"response_ids":[2]}\n\n{"prompt_ids":[1],"response_ids":"x"}\n', ":3: response_ids"],
      ['{"prompt_ids":[1],"response_ids":[2]}\n{not json\n', ":2: invalid JSON"],
      ['{"prompt_ids":[1],"response_ids":[2, 99]}\n', ":1: token id 99 is outside the vocabulary"],
      ['{"prompt_ids":[],"response_ids":[2]}\n', ":1:"],
      // This folder has no tokenizer: the error names tokenizer.json, and the line that needs it after.
      ['{"messages":[{"role":"user","content":"hi"}],"response":"x"}\n', ":1)"],
    ];
    for (const [text, needle] of cases) {
      writeFileSync(join(work, "in.jsonl"), text);
      const r = sso("score", "--model", dir, "--data", join(work, "in.jsonl"), "--out", out);
      assertOneLineError(r, `in.jsonl${needle}`);
      assert.ok(!existsSync(out), "an output file was written");
    }
  });

  it("a truncated weight file, a wrong tensor shape or an unsupported config fails with one line and exit ≠ 0", () => {
    const breakages: [string, (dir: string) => void, RegExp][] = [
      [
        "truncated",
        (dir) => truncateSync(join(dir, "model.safetensors"), statSync(join(dir, "model.safetensors")).size - 7),
        /model\.safetensors/,
      ],
      ["wrong shape", (dir) => patchConfig(dir, { intermediate_size: 81 }), /mlp\.gate_proj\.weight has shape/],
      [
        "unsupported",
        (dir) => patchConfig(dir, { rope_scaling: { rope_type: "yarn", factor: 2 } }),
        /config\.json: rope_scaling\.rope_type/,
      ],
    ];
    for (const [label, breakIt, pattern] of breakages) {
      const work = tmp(),
        dir = join(work, "m");
      mkdirSync(dir);
      for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(GOLDEN, "tiny-qwen2", f), join(dir, f));
      breakIt(dir);
      writeFileSync(join(work, "in.jsonl"), '{"prompt_ids":[1],"response_ids":[2]}\n');
      const r = sso("score", "--model", dir, "--data", join(work, "in.jsonl"), "--out", join(work, "o.jsonl"));
      assertOneLineError(r, pattern, label);
    }
  });
});
