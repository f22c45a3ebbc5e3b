// The prompts file of `sso synth`: both input forms, ids, and each kind of bad line as one error naming its line.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readPrompts } from "../../src/sso/input.js";
import { tempDir } from "../helpers.js";

const dir = tempDir("sso-input-");
const file = (lines: unknown[]): string => {
  const path = join(dir, `p${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(path, `${lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n")}\n`);
  return path;
};

describe("prompts file", () => {
  it("accepts {prompt} and {messages}, numbers prompts by position and takes ids from the line or its number", () => {
    const conv = [
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
    ];
    const ps = readPrompts(
      file([{ prompt: "hi", extra: 1 }, "", { id: 42, messages: conv }, { id: "x", prompt: "yo" }]),
    );
    assert.deepEqual(ps, [
      { index: 0, id: "1", messages: [{ role: "user", content: "hi" }] },
      { index: 1, id: "42", messages: conv },
      { index: 2, id: "x", messages: [{ role: "user", content: "yo" }] },
    ]);
  });

  it("a bad line is a one-line error naming the file, the line and the key", () => {
    const u = (content: string) => ({ role: "user", content }),
      a = (content: string) => ({ role: "assistant", content });
    const cases: [unknown, RegExp][] = [
      ["{not json", /:2: invalid JSON/],
      [{ text: "hi" }, /:2: .*exactly one of "prompt".*"messages"/],
      [{ prompt: "hi", messages: [u("x")] }, /:2: .*exactly one of/],
      [{ prompt: "  " }, /:2: prompt: must not be empty/],
      [{ prompt: 3 }, /:2: prompt: /],
      [{ messages: [] }, /:2: messages: must hold at least one message/],
      [
        { messages: [{ role: "system", content: "s" }, u("x")] },
        /:2: messages\.0\.role: system messages are not supported/,
      ],
      [{ messages: [u("x"), u("y")] }, /:2: messages\.1\.role: expected "assistant"/],
      [{ messages: [u("x"), a("y")] }, /:2: messages: the conversation must end with a user message/],
      [{ messages: [{ role: "user" }] }, /:2: messages\.0\.content: /],
    ];
    for (const [line, re] of cases) {
      assert.throws(
        () => readPrompts(file([{ prompt: "fine" }, line])),
        (e: Error) => {
          assert.match(e.message, re);
          assert.ok(!e.message.includes("\n"));
          return true;
        },
        JSON.stringify(line),
      );
    }
  });
});
