// Scoring a JSONL file, the library function behind `sso score --model DIR --data IN.jsonl --out OUT.jsonl`:
// log-probs of given responses. Input lines are
// {"messages": [...], "response": "..."} (rendered through the model's chat template, response + end-of-turn
// token) or {"prompt_ids": [...], "response_ids": [...]}. Every line is validated before any compute; the output
// is written atomically, in input order, only when every line has been scored.
import { z } from "zod";
import { getBackend } from "../backends/index.js";
import { ChatMessageSchema } from "../tokenizer/chat-line.js";
import { checkTokenizerFitsModel, Tokenizer } from "../tokenizer/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl, toJsonl } from "../util/jsonl.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { loadModel, readConfig } from "./folder.js";
import { type ScoreItem, scoreItems } from "./score.js";

const tokenId = z.number().int().nonnegative();
const ChatLine = z.strictObject({ messages: z.array(ChatMessageSchema).min(1), response: z.string() });
const IdsLine = z.strictObject({ prompt_ids: z.array(tokenId).min(1), response_ids: z.array(tokenId) });
// The line's own keys pick the form, so errors name the field that is wrong rather than "matches neither".
const ScoreLine = z.unknown().transform((v, ctx): z.infer<typeof ChatLine> | z.infer<typeof IdsLine> => {
  const isObject = typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject || !("messages" in v || "prompt_ids" in v)) {
    ctx.addIssue({
      code: "custom",
      message: 'expected {"messages": [...], "response": "..."} or {"prompt_ids": [...], "response_ids": [...]}',
    });
    return z.NEVER;
  }
  const r = ("prompt_ids" in v ? IdsLine : ChatLine).safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues)
    ctx.addIssue(
      issue.code === "unrecognized_keys" // named as the strict config parser names it: "KEY: unknown key"
        ? { code: "custom", message: "unknown key", path: [...issue.path, issue.keys[0]] }
        : { code: "custom", message: issue.message, path: issue.path },
    );
  return z.NEVER;
});

export interface ScoreFileOptions {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
  data: string;
  out: string;
  backend: string;
  batchTokens: number;
}

/** Scores every line of opts.data into opts.out (atomically, in input order). */
export function scoreFile(opts: ScoreFileOptions): void {
  const lines = readJsonl(opts.data, ScoreLine);
  checkOutputFile("--out", opts.out);
  // The tokenizer is needed (and checked against the model) only when some line gives chat messages. Its errors
  // name the tokenizer's file (the line that needs it is named after, not blamed).
  let tokenizer: Tokenizer | undefined;
  const firstChat = lines.find(({ value }) => !("prompt_ids" in value));
  if (firstChat) {
    try {
      tokenizer = Tokenizer.fromDir(opts.model);
    } catch (e) {
      throw new Error(`${(e as Error).message} (needed for the chat messages of ${opts.data}:${firstChat.line})`);
    }
    checkTokenizerFitsModel(tokenizer, readConfig(opts.model).vocabSize);
  }
  const model = loadModel(opts.model, getBackend(opts.backend), { adapter: opts.adapter, keep16: true });
  const items: ScoreItem[] = lines.map(({ line, value }) => {
    try {
      if ("prompt_ids" in value) return { promptIds: value.prompt_ids, responseIds: value.response_ids };
      return tokenizer!.encodeChat(value.messages, value.response);
    } catch (e) {
      throw new Error(`${opts.data}:${line}: ${(e as Error).message}`);
    }
  });
  for (const [i, it] of items.entries()) {
    const bad = [...it.promptIds, ...it.responseIds].find((id) => id >= model.config.vocabSize);
    if (bad !== undefined)
      throw new Error(
        `${opts.data}:${lines[i].line}: token id ${bad} is outside the vocabulary [0, ${model.config.vocabSize})`,
      );
    const n = it.promptIds.length + it.responseIds.length;
    if (n > model.config.maxPositionEmbeddings)
      throw new Error(
        `${opts.data}:${lines[i].line}: ${n} tokens exceed max_position_embeddings ${model.config.maxPositionEmbeddings}`,
      );
  }
  const bar = progress("score", items.length, "lines");
  const t0 = performance.now();
  let tokens = 0;
  const results = scoreItems(model, items, {
    maxBatchTokens: opts.batchTokens,
    source: opts.model,
    itemName: (i) => `${opts.data}:${lines[i].line}`,
    onBatch: (n, t) => {
      tokens += t;
      bar.tick(n, { "tok/s": Math.round(tokens / ((performance.now() - t0) / 1000)) });
    },
  });
  bar.stop();
  writeFileAtomic(opts.out, toJsonl(results));
  console.error(
    `scored ${results.length} lines (${tokens} tokens) in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.out}`,
  );
}
