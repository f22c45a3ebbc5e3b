// A conversation with a model, one user message at a time (the library side of `sso chat`): the folder's chat
// template renders the whole conversation, the reply is sampled with the turn's own seed (seed + turn), and a
// message that would make the conversation longer than the model's context is refused — not sent, not kept —
// while the session goes on. Decoding's repacked weights are made once for the session. Not here: reading a
// terminal (src/cli/chat.ts).

import { type DecodeWeights, decodeWeights } from "../model/decode-weights.js";
import type { Model } from "../model/model.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import { generate } from "./generate.js";

export interface ChatSettings {
  system?: string;
  seed: number;
  temperature: number;
  topP: number;
  topK: number;
  maxNewTokens: number;
}

/** A reply, or why the message was not sent. */
export type ChatTurn = { reply: string; truncated: boolean } | { refused: string };

export class ChatSession {
  private messages: ChatMessage[];
  private turn = 0;
  private readonly weights: DecodeWeights | undefined;

  constructor(
    readonly model: Model,
    readonly tok: Tokenizer,
    readonly settings: ChatSettings,
  ) {
    this.messages = this.start();
    this.weights = decodeWeights(model); // once: the model does not change between turns
  }

  private start(): ChatMessage[] {
    return this.settings.system ? [{ role: "system", content: this.settings.system }] : [];
  }

  /** Forgets the conversation (the system message stays). */
  reset(): void {
    this.messages = this.start();
  }

  /** Sends one user message; the reply joins the conversation. */
  send(text: string): ChatTurn {
    const { model, tok, settings: s } = this,
      maxPositions = model.config.maxPositionEmbeddings;
    const messages = [...this.messages, { role: "user", content: text } as ChatMessage];
    const promptIds = tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: true }));
    // One that fits gets at most the context's remaining tokens for its reply.
    const room = maxPositions - promptIds.length;
    if (room < 1)
      return {
        refused: `the conversation would be ${promptIds.length} tokens, more than the model's context (max_position_embeddings ${maxPositions}); send a shorter one, or /reset`,
      };
    const params = {
      temperature: s.temperature,
      topP: s.topP,
      topK: s.topK,
      maxNewTokens: Math.min(s.maxNewTokens, room),
      stop: [],
    };
    const [reply] = generate(model, [{ promptIds, params, seed: s.seed + this.turn++ }], {
      maxBatch: 1,
      eosIds: tok.stopIds,
      weights: this.weights,
      decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    });
    this.messages = [...messages, { role: "assistant", content: reply.text }];
    return { reply: reply.text, truncated: reply.finishReason === "length" };
  }
}
