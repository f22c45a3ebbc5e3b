// `sso chat --model DIR`: a small interactive loop for trying a model — each line typed is a user turn, the
// model's reply is generated with the folder's chat template and printed. `/reset` clears the conversation,
// `/exit` (or end of input) quits. A message that would make the conversation longer than the model's context is
// not sent (one line on stderr) and the session goes on (src/sample/chat-session.ts). Not a chat product: no
// streaming, no history file.
import { createInterface } from "node:readline";
import { openModel } from "../model/open.js";
import { ChatSession, type ChatSettings } from "../sample/chat-session.js";

export interface ChatOptions extends ChatSettings {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
  backend: string;
}

export async function runChat(opts: ChatOptions): Promise<void> {
  const { model, tok } = openModel(opts.model, { backend: opts.backend, adapter: opts.adapter, keep16: true });
  const session = new ChatSession(model, tok, opts);
  const rl = createInterface({ input: process.stdin, terminal: false });
  console.log(`chatting with ${opts.model} (${model.config.modelType}); /reset clears, /exit quits`);
  const prompt = (): boolean => process.stdout.write("> ");
  prompt();
  try {
    // Iterating the lines (rather than rl.question) keeps lines that arrive while a reply is being generated.
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === "/exit") break;
      if (line === "/reset") session.reset();
      else if (line) {
        const turn = session.send(line);
        if ("refused" in turn) console.error(`sso: message not sent: ${turn.refused}`);
        else console.log(turn.reply + (turn.truncated ? " […]" : ""));
      }
      prompt();
    }
  } finally {
    rl.close();
  }
}
