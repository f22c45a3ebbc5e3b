// The evaluation behind `sso eval --model DIR (--world | --data FILE.jsonl)`: greedy answers of a local model, then
// either the principle world's checkers (pass rate per feature, overall, well-formed share, mean length) on seeded
// world prompts, or exact match against reference answers (normalisation in world/evaluate.ts) on a JSONL file.
// Inputs and the output path are checked before the model loads; the report (summary and every answer) is written
// atomically. Returns the text table for the command to print. Judged evaluations are run.ts.
import { z } from "zod";
import { openModel } from "../model/open.js";
import { checkFiniteTokenLogp } from "../model/score.js";
import { NonFiniteLogitsError } from "../sample/sampling.js";
import { lineMessages, PromptOrMessages } from "../tokenizer/chat-line.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl } from "../util/jsonl.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { WORLD_FEATURES } from "../world/check.js";
import {
  type ExactItem,
  type ExactSummary,
  evaluateExact,
  evaluateWorld,
  type WorldSummary,
} from "../world/evaluate.js";
import { type Split, samplePrompts } from "../world/world.js";

export interface ModelEvalOptions {
  model: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
  /** Exact match on this JSONL file; the world's checkers when absent. */
  data?: string;
  /** World prompts: split (default heldout), count (default 200), seed (default 0). */
  split?: Split;
  n?: number;
  seed?: number;
  out?: string;
  maxNewTokens: number;
  batch: number;
  backend: string;
}

/**
 * A --data line: {"prompt": "...", "answer": ...} or {"messages": [...], "answer": ...}, where answer is a string or a
 * list of accepted strings; or {"messages": [..., {"role": "assistant", "content": reference}]} without "answer"
 * (an SFT line: the last assistant turn is the reference). Other keys are ignored.
 */
const DataLine = z
  .object({
    ...PromptOrMessages,
    answer: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  })
  .transform((v, ctx): Omit<ExactItem, "line"> => {
    const fail = (message: string, path: (string | number)[] = []) => {
      ctx.addIssue({ code: "custom", message, path });
      return z.NEVER;
    };
    const given = lineMessages(v);
    if (!Array.isArray(given)) return fail(given.problem, given.path);
    let messages = given;
    let references = v.answer === undefined ? undefined : typeof v.answer === "string" ? [v.answer] : v.answer;
    if (references === undefined && messages.length > 1 && messages[messages.length - 1].role === "assistant") {
      references = [messages[messages.length - 1].content];
      messages = messages.slice(0, -1);
    }
    if (references === undefined) return fail('missing "answer" (a string or a list of strings)', ["answer"]);
    if (messages[messages.length - 1].role !== "user")
      return fail("the conversation must end with a user message", ["messages"]);
    return { messages, references };
  });

const fmt = (x: number | null, digits = 3): string => (x === null ? "n/a" : x.toFixed(digits));

/** The --world table: one row per judged feature, then overall, the well-formed share and mean length. */
export function worldTable(s: WorldSummary): string {
  const rows = WORLD_FEATURES.map(
    (f) => `${f.padEnd(20)}${fmt(s.features[f].rate).padStart(8)}${String(s.features[f].n).padStart(7)}`,
  );
  return [
    `${"feature".padEnd(20)}${"pass".padStart(8)}${"n".padStart(7)}`,
    ...rows,
    `${"overall".padEnd(20)}${fmt(s.overall).padStart(8)}${String(s.prompts).padStart(7)}`,
    `${"well-formed".padEnd(20)}${fmt(s.well_formed).padStart(8)}${String(s.prompts).padStart(7)}`,
    `mean length: ${s.mean_chars.toFixed(1)} chars, ${s.mean_tokens.toFixed(1)} tokens`,
  ].join("\n");
}

export const exactLine = (s: ExactSummary): string =>
  `exact match: ${s.correct} / ${s.n} = ${fmt(s.accuracy)} (mean length ${s.mean_chars.toFixed(1)} chars, ${s.mean_tokens.toFixed(1)} tokens)`;

/** Evaluates opts.model; writes opts.out when given; returns the text to print. */
export function runModelEval(opts: ModelEvalOptions): string {
  const items =
    opts.data !== undefined ? readJsonl(opts.data, DataLine).map(({ line, value }) => ({ ...value, line })) : undefined;
  const split = opts.split ?? "heldout",
    n = opts.n ?? 200,
    seed = opts.seed ?? 0;
  const prompts = items ? [] : samplePrompts(split, seed, n);
  if (opts.out !== undefined) checkOutputFile("--out", opts.out);
  const { model, tok } = openModel(opts.model, { backend: opts.backend, adapter: opts.adapter, keep16: true });
  const bar = progress("eval", items ? items.length : prompts.length, "answers");
  const answerOpts = {
    maxNewTokens: opts.maxNewTokens,
    batch: opts.batch,
    onAnswer: () => bar.tick(1),
    // A NaN model answers garbage that scores like a bad model: refuse it at its first non-finite log-prob.
    onToken: (i: number, token: number, row: Float32Array) =>
      checkFiniteTokenLogp(
        row,
        token,
        opts.model,
        items
          ? `a token of the answer to ${opts.data}:${items[i].line}`
          : `a token of the answer to world prompt ${prompts[i].id}`,
      ),
  };
  const settings = { model: opts.model, max_new_tokens: opts.maxNewTokens, decoding: "greedy" };
  let report: Record<string, unknown>, text: string;
  try {
    if (items) {
      const { summary, results } = evaluateExact(model, tok, items, answerOpts);
      text = exactLine(summary);
      report = { mode: "data", data: opts.data, ...settings, summary, results };
    } else {
      const { summary, results } = evaluateWorld(model, tok, prompts, answerOpts);
      text = `world, ${split} split, ${n} prompts (seed ${seed})\n${worldTable(summary)}`;
      report = { mode: "world", split, n, seed, ...settings, summary, results };
    }
  } catch (e) {
    if (e instanceof NonFiniteLogitsError) throw new Error(`${opts.model}: ${e.message}`);
    throw e;
  } finally {
    bar.stop();
  }
  if (opts.out !== undefined) writeFileAtomic(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  return text;
}
