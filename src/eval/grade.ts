// Single-answer grading, MT-Bench style: each question has one or more user turns (and, for categories that need
// one, reference answers per turn); the model's answers are graded turn by turn from 1 to 10, turn k seeing the
// whole conversation up to the model's k-th answer. References are shown for the categories in REFERENCE_CATEGORIES
// when the question has them. A grade the judge gives in no parseable form (after one retry, judge.ts) is counted as
// unparsed and left out of the means. The summary: overall mean with a bootstrap 95% interval, mean per category
// and per turn.
import { z } from "zod";
import type { Model } from "../model/model.js";
import { pool } from "../remote/http.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import { readJsonl } from "../util/jsonl.js";
import { type AnswerOptions, answerAll } from "../world/evaluate.js";
import type { ChatJudge } from "./client.js";
import { ask, type JudgmentCache } from "./judge.js";
import { GRADE_FIX, gradeMessages, parseScore } from "./prompts.js";
import { type BootstrapOptions, type Interval, mean, meanWithInterval } from "./stats.js";

/** Categories whose grading shows the judge the reference answer (MT-Bench's choice). */
export const REFERENCE_CATEGORIES = ["math", "reasoning", "coding"];

const Id = z.union([z.string(), z.number()]).transform(String);

export const QuestionLine = z.object({
  question_id: Id,
  category: z.string().default("general"),
  turns: z.array(z.string().min(1)).min(1),
  reference: z.array(z.string()).optional(),
});
export type Question = z.infer<typeof QuestionLine>;

export const AnswerTurnsLine = z.object({ question_id: Id, turns: z.array(z.string()).min(1) });

export function readQuestions(path: string): Question[] {
  const rows = readJsonl(path, QuestionLine);
  const seen = new Set<string>();
  for (const { line, value } of rows) {
    if (seen.has(value.question_id)) throw new Error(`${path}:${line}: question_id ${value.question_id} appears twice`);
    seen.add(value.question_id);
    if (value.reference && value.reference.length !== value.turns.length)
      throw new Error(
        `${path}:${line}: reference: expected one per turn (${value.turns.length}), got ${value.reference.length}`,
      );
  }
  return rows.map((r) => r.value);
}

/** Answers from a JSONL file ({question_id, turns}), one per question with as many turns. */
export function readAnswerTurns(path: string, questions: readonly Question[]): string[][] {
  const byId = new Map(readJsonl(path, AnswerTurnsLine).map(({ line, value }) => [value.question_id, { line, value }]));
  return questions.map((q) => {
    const a = byId.get(q.question_id);
    if (!a) throw new Error(`${path}: no answer to question_id ${q.question_id}`);
    if (a.value.turns.length !== q.turns.length)
      throw new Error(`${path}:${a.line}: turns: expected ${q.turns.length} answers, got ${a.value.turns.length}`);
    return a.value.turns;
  });
}

/** A local model's greedy answers, turn after turn (turn k sees the model's own earlier answers). */
export function answerTurns(
  model: Model,
  tok: Tokenizer,
  questions: readonly Question[],
  opts: AnswerOptions = {},
): string[][] {
  const answers: string[][] = questions.map(() => []);
  const turns = Math.max(...questions.map((q) => q.turns.length));
  for (let k = 0; k < turns; k++) {
    const open = questions.map((q, i) => ({ q, i })).filter(({ q }) => k < q.turns.length);
    const results = answerAll(
      model,
      tok,
      open.map(({ q, i }) => conversation(q, answers[i], k).slice(0, -1)),
      opts,
    );
    open.forEach(({ i }, j) => answers[i].push(results[j].text));
  }
  return answers;
}

/** The conversation up to the model's answer to turn k (user, assistant, …, user, assistant). */
function conversation(q: Question, answers: readonly string[], k: number): ChatMessage[] {
  return q.turns.slice(0, k + 1).flatMap((t, j) => [
    { role: "user", content: t },
    { role: "assistant", content: answers[j] ?? "" },
  ]);
}

export interface TurnGrade {
  question_id: string;
  category: string;
  turn: number;
  answer: string;
  /** 1..10, or null when unparsed. */
  score: number | null;
  replies: string[];
}

/** Grades every turn of every answer; in question order, turns in order. */
export async function gradeAnswers(
  questions: readonly Question[],
  answers: readonly string[][],
  judge: ChatJudge,
  cache: JudgmentCache,
  opts: { concurrency?: number; onGrade?: () => void } = {},
): Promise<TurnGrade[]> {
  const jobs = questions.flatMap((q, i) => q.turns.map((_, k) => ({ q, i, k })));
  return pool(jobs, opts.concurrency ?? 8, async ({ q, i, k }) => {
    const reference = REFERENCE_CATEGORIES.includes(q.category) ? q.reference?.[k] : undefined;
    const j = await ask(judge, cache, gradeMessages(conversation(q, answers[i], k), reference), parseScore, GRADE_FIX);
    opts.onGrade?.();
    return {
      question_id: q.question_id,
      category: q.category,
      turn: k + 1,
      answer: answers[i][k],
      score: j.value,
      replies: j.replies,
    };
  });
}

export interface GradeSummary {
  grades: number;
  unparsed: number;
  mean: number | null;
  mean_ci: Interval | null;
  categories: Record<string, { n: number; mean: number | null }>;
  turns: Record<string, { n: number; mean: number | null }>;
}

export function summarizeGrades(grades: readonly TurnGrade[], opts: BootstrapOptions = {}): GradeSummary {
  const parsed = grades.filter((g): g is TurnGrade & { score: number } => g.score !== null);
  const group = (key: (g: TurnGrade) => string) => {
    const out: Record<string, { n: number; mean: number | null }> = {};
    for (const k of [...new Set(grades.map(key))]) {
      const xs = parsed.filter((g) => key(g) === k).map((g) => g.score);
      out[k] = { n: xs.length, mean: xs.length ? mean(xs) : null };
    }
    return out;
  };
  const overall = meanWithInterval(
    parsed.map((g) => g.score),
    opts,
  );
  return {
    grades: grades.length,
    unparsed: grades.length - parsed.length,
    mean: overall.value,
    mean_ci: overall.ci,
    categories: group((g) => g.category),
    turns: group((g) => String(g.turn)),
  };
}
