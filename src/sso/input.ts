// The prompts file of `sso synth`: JSONL with {"prompt": "..."} or {"messages": [...]} per line (optionally "id";
// other keys are ignored, as datasets carry extra columns). Conversations alternate user and assistant turns,
// starting and ending with the user; system messages are refused because synthesis writes its own. The first bad
// line is a one-line error "FILE:LINE: key: problem".
import { z } from "zod";
import { lineMessages, PromptOrMessages } from "../tokenizer/chat-line.js";
import { readJsonl } from "../util/jsonl.js";
import type { SynthPrompt } from "./stages.js";

const PromptLine = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    ...PromptOrMessages,
  })
  .transform((v, ctx) => {
    const fail = (message: string, path: (string | number)[] = []) => {
      ctx.addIssue({ code: "custom", message, path });
      return z.NEVER;
    };
    const messages = lineMessages(v);
    if (!Array.isArray(messages)) return fail(messages.problem, messages.path);
    for (const [i, m] of messages.entries()) {
      if (m.role === "system")
        return fail("system messages are not supported (synthesis writes its own)", ["messages", i, "role"]);
      const want = i % 2 === 0 ? "user" : "assistant";
      if (m.role !== want)
        return fail(`expected "${want}" (turns alternate, starting with the user), got "${m.role}"`, [
          "messages",
          i,
          "role",
        ]);
    }
    if (messages.length % 2 === 0) return fail("the conversation must end with a user message", ["messages"]);
    return { id: v.id, messages };
  });

/** Reads and validates a prompts file (at least one prompt); index is the 0-based position among its non-blank lines. */
export function readPrompts(path: string): SynthPrompt[] {
  const prompts = readJsonl(path, PromptLine).map(({ line, value }, index) => ({
    index,
    id: String(value.id ?? line),
    messages: value.messages,
  }));
  if (prompts.length === 0) throw new Error(`${path}: no prompts`);
  return prompts;
}
