// `sso chat --model DIR`: a small interactive loop for trying a model — each line typed is a user turn, the
// model's reply is generated with the folder's chat template and printed. `/reset` clears the conversation,
// `/exit` (or end of input) quits. A message that would make the conversation longer than the model's context is
// not sent (one line on stderr) and the session goes on. Not a chat product: no streaming, no history file.
import { createInterface } from "node:readline";
import { decodeWeights } from "../model/decode-weights.js";
import { openModel } from "../model/open.js";
import { generate } from "../sample/generate.js";
import type { ChatMessage } from "../tokenizer/tokenizer.js";

export interface ChatOptions {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
  backend: string;
  system?: string;
  seed: number;
  temperature: number;
  topP: number;
  topK: number;
  maxNewTokens: number;
}

export async function runChat(opts: ChatOptions): Promise<void> {
  const { model, tok } = openModel(opts.model, { backend: opts.backend, adapter: opts.adapter, keep16: true });
  const maxPositions = model.config.maxPositionEmbeddings;
  const weights = decodeWeights(model); // once: the model does not change between turns
  const eosIds = tok.stopIds;
  const start = (): ChatMessage[] => (opts.system ? [{ role: "system", content: opts.system }] : []);
  let messages = start(),
    turn = 0;
  const rl = createInterface({ input: process.stdin, terminal: false });
  console.log(`chatting with ${opts.model} (${model.config.modelType}); /reset clears, /exit quits`);
  const prompt = (): boolean => process.stdout.write("> ");
  prompt();
  try {
    // Iterating the lines (rather than rl.question) keeps lines that arrive while a reply is being generated.
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === "/exit") break;
      if (line === "/reset" || !line) {
        if (line) messages = start();
        prompt();
        continue;
      }
      messages.push({ role: "user", content: line });
      const promptIds = tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: true }));
      // A conversation that no longer fits the context is not sent: the message is dropped and the session goes on.
      // One that fits gets at most the context's remaining tokens for its reply.
      const room = maxPositions - promptIds.length;
      if (room < 1) {
        messages.pop();
        console.error(
          `sso: message not sent: the conversation would be ${promptIds.length} tokens, more than the model's context (max_position_embeddings ${maxPositions}); send a shorter one, or /reset`,
        );
        prompt();
        continue;
      }
      const params = {
        temperature: opts.temperature,
        topP: opts.topP,
        topK: opts.topK,
        maxNewTokens: Math.min(opts.maxNewTokens, room),
        stop: [],
      };
      const [reply] = generate(model, [{ promptIds, params, seed: opts.seed + turn++ }], {
        maxBatch: 1,
        eosIds,
        weights,
        decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
      });
      console.log(reply.text + (reply.finishReason === "length" ? " […]" : ""));
      messages.push({ role: "assistant", content: reply.text });
      prompt();
    }
  } finally {
    rl.close();
  }
}
