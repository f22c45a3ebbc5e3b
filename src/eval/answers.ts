// Answers to judge, from files or generated: AlpacaEval-style JSON (a list of {instruction, output, generator}) or
// our JSONL ({"instruction" | "prompt", "output" | "response" | "text", "generator"?} per line), optionally with
// AlpacaEval's "instruction_difficulty". `pairUp` matches a model's answers to a baseline's by instruction text, as
// AlpacaEval does. Errors are one line naming the file and the line or index. Generation with a local model is
// `generateAnswers` (greedy, batched; world/evaluate.ts's answerAll). Not here: judging (pairwise.ts).
import { z } from "zod";
import type { Model } from "../model/model.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { describeIssue, readJson } from "../util/files.js";
import { readJsonl } from "../util/jsonl.js";
import { type AnswerOptions, answerAll } from "../world/evaluate.js";
import type { PairItem } from "./pairwise.js";

export interface AnswerRow {
  instruction: string;
  output: string;
  generator?: string;
  difficulty?: number;
  /** "FILE:LINE" or "FILE[INDEX]", for errors. */
  where: string;
}

const AnswerLine = z
  .object({
    instruction: z.string().optional(),
    prompt: z.string().optional(),
    output: z.string().optional(),
    response: z.string().optional(),
    text: z.string().optional(),
    generator: z.string().optional(),
    instruction_difficulty: z.number().optional(),
  })
  .transform((v, ctx) => {
    const instruction = v.instruction ?? v.prompt,
      output = v.output ?? v.response ?? v.text;
    if (instruction === undefined || instruction.trim() === "") {
      ctx.addIssue({ code: "custom", message: 'needs "instruction" (or "prompt"), a non-empty string', path: [] });
      return z.NEVER;
    }
    if (output === undefined) {
      ctx.addIssue({ code: "custom", message: 'needs "output" (or "response" or "text"), a string', path: [] });
      return z.NEVER;
    }
    return {
      instruction,
      output,
      ...(v.generator === undefined ? {} : { generator: v.generator }),
      ...(v.instruction_difficulty === undefined ? {} : { difficulty: v.instruction_difficulty }),
    };
  });

/** Reads answers: a .json file is AlpacaEval's list of objects, anything else our JSONL. */
export function readAnswers(path: string): AnswerRow[] {
  if (!path.endsWith(".json"))
    return readJsonl(path, AnswerLine).map(({ line, value }) => ({ ...value, where: `${path}:${line}` }));
  const list = readJson(path);
  if (!Array.isArray(list)) throw new Error(`${path}: expected a JSON list of {instruction, output} objects`);
  return list.map((x, i) => {
    const r = AnswerLine.safeParse(x);
    if (!r.success) throw new Error(`${path}[${i}]: ${describeIssue(r.error.issues[0])}`);
    return { ...r.data, where: `${path}[${i}]` };
  });
}

/** The model's rows paired with the baseline's answer to the same instruction, in the model's order. */
export function pairUp(model: readonly AnswerRow[], baseline: readonly AnswerRow[]): PairItem[] {
  const byInstruction = new Map<string, AnswerRow>();
  for (const b of baseline) {
    if (byInstruction.has(b.instruction)) throw new Error(`${b.where}: this instruction appears twice`);
    byInstruction.set(b.instruction, b);
  }
  const seen = new Set<string>();
  return model.map((m) => {
    const b = byInstruction.get(m.instruction);
    if (!b) throw new Error(`${m.where}: the baseline has no answer to this instruction`);
    if (seen.has(m.instruction)) throw new Error(`${m.where}: this instruction appears twice`);
    seen.add(m.instruction);
    const difficulty = m.difficulty ?? b.difficulty;
    return {
      instruction: m.instruction,
      output: m.output,
      baseline: b.output,
      ...(difficulty === undefined ? {} : { difficulty }),
    };
  });
}

/** A local model's greedy answers to instructions (each a single user turn), as answer rows. */
export function generateAnswers(
  model: Model,
  tok: Tokenizer,
  instructions: readonly string[],
  generator: string,
  opts: AnswerOptions = {},
): AnswerRow[] {
  const results = answerAll(
    model,
    tok,
    instructions.map((content) => [{ role: "user", content }]),
    opts,
  );
  return instructions.map((instruction, i) => ({ instruction, output: results[i].text, generator, where: generator }));
}
