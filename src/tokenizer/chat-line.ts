// The chat part of a user's JSONL line, one schema for every command that reads conversations (synth's prompts,
// eval's data, score's and generate's inputs): a message is {role, content}, the role one that `sso serve` also
// accepts (an unknown role such as "wizard" is an error, not a turn the template renders oddly); a line gives either "prompt" (one
// user turn) or "messages". What each command further requires (alternating turns, no system message, an answer)
// stays with it.
import { z } from "zod";
import type { ChatMessage } from "./tokenizer.js";

/** The roles a line's messages may have: those `sso serve` accepts (OpenAI's "developer" is a system message). */
export const CHAT_ROLES = ["system", "user", "assistant", "developer"] as const;

export const ChatMessageSchema = z
  .object({
    role: z.enum(CHAT_ROLES, {
      error: (i) => `unknown role ${JSON.stringify(i.input)}; expected ${CHAT_ROLES.join(", ")}`,
    }),
    content: z.string(),
  })
  .transform((m) => ({ ...m, role: m.role === "developer" ? "system" : m.role }));

/** The fields of a line that holds a conversation as "prompt" or as "messages". */
export const PromptOrMessages = {
  prompt: z.string().optional(),
  messages: z.array(ChatMessageSchema).optional(),
};

export interface LineProblem {
  problem: string;
  path: (string | number)[];
}

/** A line's conversation: exactly one of prompt (not blank) or messages (at least one), or what is wrong. */
export function lineMessages(v: { prompt?: string; messages?: ChatMessage[] }): ChatMessage[] | LineProblem {
  if ((v.prompt === undefined) === (v.messages === undefined)) {
    return { problem: 'expected exactly one of "prompt" (a string) or "messages" (a list of chat messages)', path: [] };
  }
  if (v.prompt !== undefined)
    return v.prompt.trim() === ""
      ? { problem: "must not be empty", path: ["prompt"] }
      : [{ role: "user", content: v.prompt }];
  return v.messages!.length === 0 ? { problem: "must hold at least one message", path: ["messages"] } : v.messages!;
}
