// The chat part of a user's JSONL line, one schema for every command that reads conversations (synth's prompts,
// eval's data, score's and generate's inputs): a message is {role, content}; a line gives either "prompt" (one
// user turn) or "messages". What each command further requires (alternating turns, no system message, an answer)
// stays with it.
import { z } from "zod";
import type { ChatMessage } from "./tokenizer.js";

export const ChatMessageSchema = z.object({ role: z.string().min(1), content: z.string() });

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
