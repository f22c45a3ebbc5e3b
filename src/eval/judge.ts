// Asking a judge, once per distinct question: `ask` sends the messages, parses the reply, and when the reply cannot
// be parsed asks once more (the reply and a short correction appended); a second failure is recorded as unparsed
// (value null), never as a tie or a default grade. Every answer, parsed or not, goes into the judgment cache, a JSONL
// file keyed by sha256 of (judge id, prompt version, the exact messages — so the instruction and both answers in
// their order), appended durably one line per judgment: a rerun with the same inputs sends no request for a parsed
// judgment, and a killed run resumes where it stopped. An unparsed one is asked again on a rerun (the judge may have
// been down, overloaded or replaced; the new answer is appended and wins), unless the cache is opened with
// reaskUnparsed false (`--keep-unparsed`).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { ChatMessage } from "../tokenizer/tokenizer.js";
import { appendDurable } from "../util/atomic.js";
import type { ChatJudge } from "./client.js";
import { PROMPT_VERSION } from "./prompts.js";

export interface Judgment<T> {
  /** The parsed verdict or grade; null = unparsed after the retry. */
  value: T | null;
  /** The judge's replies: one, or two when the first could not be parsed. */
  replies: string[];
}

interface CacheLine {
  key: string;
  value: unknown;
  replies: string[];
}

/** Judgments on disk (or only in memory without a path), keyed by judgmentKey. */
export class JudgmentCache {
  private readonly entries = new Map<string, CacheLine>();
  hits = 0;
  misses = 0;
  /** Of the misses: unparsed judgments in the cache that were asked again. */
  reasked = 0;
  /** Ask again what the cache holds as unparsed (default), or answer it from the cache. */
  readonly reaskUnparsed: boolean;

  constructor(
    readonly path?: string,
    opts: { reaskUnparsed?: boolean } = {},
  ) {
    this.reaskUnparsed = opts.reaskUnparsed ?? true;
    if (path === undefined || !existsSync(path)) return;
    for (const raw of readFileSync(path, "utf8").split("\n")) {
      if (raw.trim() === "") continue;
      try {
        const line = JSON.parse(raw) as CacheLine;
        if (typeof line.key === "string" && Array.isArray(line.replies)) this.entries.set(line.key, line);
      } catch {
        // a line torn by a killed run: that judgment is asked again
      }
    }
  }

  get(key: string): CacheLine | undefined {
    return this.entries.get(key);
  }

  put(line: CacheLine): void {
    this.entries.set(line.key, line);
    if (this.path !== undefined) appendDurable(this.path, `${JSON.stringify(line)}\n`);
  }
}

export const judgmentKey = (judgeId: string, messages: readonly ChatMessage[]): string =>
  createHash("sha256")
    .update(JSON.stringify([judgeId, PROMPT_VERSION, messages]))
    .digest("hex");

/** Asks `judge` (or the cache) `messages`; parses with `parse`, retrying once with `fix` appended. */
export async function ask<T>(
  judge: ChatJudge,
  cache: JudgmentCache,
  messages: ChatMessage[],
  parse: (reply: string) => T | null,
  fix: string,
): Promise<Judgment<T>> {
  const key = judgmentKey(judge.id, messages),
    cached = cache.get(key);
  if (cached && (cached.value !== null || !cache.reaskUnparsed)) {
    cache.hits++;
    return { value: cached.value as T | null, replies: cached.replies };
  }
  cache.misses++;
  if (cached) cache.reasked++;
  const first = await judge.complete(messages);
  let value = parse(first);
  const replies = [first];
  if (value === null) {
    const second = await judge.complete([
      ...messages,
      { role: "assistant", content: first },
      { role: "user", content: fix },
    ]);
    replies.push(second);
    value = parse(second);
  }
  cache.put({ key, value, replies });
  return { value, replies };
}
