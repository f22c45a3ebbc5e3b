// Verifiable answers: the final answer a response gives, in three formats, and whether it equals the reference.
//   gsm8k   the number after the last "####", else after the last "answer is", else the last number; thousands
//           commas, "$" and a trailing full stop are ignored; compared as numbers.
//   math    the content of the last \boxed{…} (braces balanced; \fbox and "\boxed 5" too), else the "answer is"
//           phrase's rest; normalised (normalizeMath) and compared as text, or as numbers where both are numbers or
//           simple fractions.
//   choice  a multiple-choice letter A–J: "answer is (B)" / "Answer: B", else a response that is only a letter,
//           else one that starts "B." / "(B)", else the last parenthesised "(B)".
// References go through the same extraction (a GSM8K solution ends in "#### 42"), falling back to the whole text.
// `mathAccuracy` scores responses with a bootstrap interval; `readMathData` reads the problems (JSONL). Generating
// responses and printing are elsewhere (run.ts, cli/eval.ts).
import { z } from "zod";
import { readJsonl } from "../util/jsonl.js";
import { type Interval, meanWithInterval } from "./stats.js";

export const ANSWER_FORMATS = ["gsm8k", "math", "choice"] as const;
export type AnswerFormat = (typeof ANSWER_FORMATS)[number];

/** Numbers in text: "1,234.5" (thousands commas), "-3", ".5", with a Unicode minus too. */
const NUMBER = /[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?/g;

const numbersIn = (s: string): string[] =>
  (s.match(NUMBER) ?? []).filter((m) => /\d/.test(m)).map((m) => m.replace(/,/g, "").replace("−", "-"));

/** The number a GSM8K-style response ends on, as a canonical decimal string; undefined if it gives none. */
export function extractGsm8k(text: string): string | undefined {
  const hashes = text.lastIndexOf("####");
  let tail: string[] = [];
  if (hashes >= 0) tail = numbersIn(text.slice(hashes + 4)).slice(0, 1);
  if (tail.length === 0) {
    const said = [...text.matchAll(/answer\s+is\s*:?/gi)];
    if (said.length > 0)
      tail = numbersIn(text.slice(said[said.length - 1].index! + said[said.length - 1][0].length)).slice(0, 1);
  }
  if (tail.length === 0) tail = numbersIn(text).slice(-1);
  if (tail.length === 0) return undefined;
  const n = Number(tail[0]);
  return Number.isFinite(n) ? String(n) : undefined;
}

/** The content of the last \boxed{…} or \fbox{…} (nested braces balanced), or of "\boxed X"; undefined if none. */
export function extractBoxed(text: string): string | undefined {
  const at = Math.max(text.lastIndexOf("\\boxed"), text.lastIndexOf("\\fbox"));
  if (at < 0) return undefined;
  const i = at + (text.startsWith("\\boxed", at) ? "\\boxed" : "\\fbox").length;
  if (text[i] === " ") {
    const m = /^ +([^\s$]+)/.exec(text.slice(i));
    return m?.[1];
  }
  if (text[i] !== "{") return undefined;
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    if (text[j] === "{") depth++;
    else if (text[j] === "}" && --depth === 0) return text.slice(i + 1, j);
  }
  return undefined;
}

/** Braces a command's single-character arguments: braceArgs(s, "frac", 2) turns \frac12 into \frac{1}{2}. */
const braceArgs = (s: string, command: string, count: number): string =>
  s.replace(new RegExp(`\\\\${command}((?:\\s*(?:\\{[^{}]*\\}|[0-9a-zA-Z])){${count}})`, "g"), (_, args: string) => {
    const parts = [...args.matchAll(/\{([^{}]*)\}|([0-9a-zA-Z])/g)].map((m) => m[1] ?? m[2]);
    return `\\${command}${parts.map((p) => `{${p}}`).join("")}`;
  });

/**
 * MATH's answer normal form: no spaces, $, \left/\right, thin spaces, degree signs, percent signs, trailing full
 * stop or trailing unit (\text{ cm}, \mbox{…}, also squared); \dfrac and \tfrac are \frac, \frac12 is \frac{1}{2},
 * \sqrt2 is \sqrt{2}, a/b of integers is \frac{a}{b}; a leading "x =" is dropped; thousands commas are dropped;
 * "0.50" is "0.5" and ".5" is "0.5".
 */
export function normalizeMath(answer: string): string {
  let s = answer.trim();
  s = s.replace(/\\(?:left|right)\b/g, "").replace(/\\[!,;:]|\\ /g, " ");
  s = s.replace(/\\[dt]frac/g, "\\frac").replace(/\\?\$/g, "");
  s = s.replace(/\^\s*\{?\\circ\}?/g, "").replace(/\\?%/g, "");
  // A trailing unit after a value: \text{ cm}, \mbox{ inches}^2, \mathrm{m}.
  const unit = /^(.*?\S)\s*\\(?:text|mbox|mathrm)\{[^{}]*\}(?:\^\{?\d\}?)?\s*\.?$/.exec(s);
  if (unit) s = unit[1];
  s = s.replace(/\\(?:text|mbox|mathrm)\{([^{}]*)\}/g, "$1");
  s = s.replace(/^[a-zA-Z]\s*=\s*(?=\S)/, "");
  s = s.replace(/\s+/g, "").replace(/\.$/, "");
  s = braceArgs(s, "frac", 2);
  s = braceArgs(s, "sqrt", 1);
  s = s.replace(/\{,\}/g, ",");
  if (/^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/,/g, "");
  const ratio = /^(-?\d+)\/(\d+)$/.exec(s);
  if (ratio) s = `\\frac{${ratio[1]}}{${ratio[2]}}`;
  if (/^-?\d*\.\d+$|^-?\d+$/.test(s)) s = String(Number(s));
  return s;
}

/** The value of a normalised answer that is a number or a (signed) simple fraction; undefined otherwise. */
function numericValue(s: string): number | undefined {
  if (/^-?\d+(?:\.\d+)?$/.test(s)) return Number(s);
  const f = /^(-?)\\frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}$/.exec(s);
  if (f && Number(f[3]) !== 0) return ((f[1] ? -1 : 1) * Number(f[2])) / Number(f[3]);
  return undefined;
}

/** Whether two MATH answers are the same after normalisation (as text, or as numbers within 1e-9 relative). */
export function mathEqual(a: string, b: string): boolean {
  const x = normalizeMath(a),
    y = normalizeMath(b);
  if (x === y) return true;
  const u = numericValue(x),
    v = numericValue(y);
  return u !== undefined && v !== undefined && Math.abs(u - v) <= 1e-9 * Math.max(1, Math.abs(u), Math.abs(v));
}

/** A MATH response's final answer: the last \boxed{…}, else what follows the last "answer is" up to the line end. */
export function extractMath(text: string): string | undefined {
  const boxed = extractBoxed(text);
  if (boxed !== undefined) return boxed;
  const said = [...text.matchAll(/answer\s+is\s*:?\s*([^\n]+)/gi)];
  return said.length > 0 ? said[said.length - 1][1].trim().replace(/\.$/, "") : undefined;
}

/** The multiple-choice letter (A–J) a response picks; undefined if none is clear. */
export function extractChoice(text: string): string | undefined {
  const said = [...text.matchAll(/\b[Aa]nswer(?:\s+is)?\s*[:：]?\s*[*(\s]*([A-J])\b/g)];
  if (said.length > 0) return said[said.length - 1][1];
  const alone = /^\s*[*(]*([A-J])[*).:]*\s*$/.exec(text);
  if (alone) return alone[1];
  const leading = /^\s*\(?([A-J])[).:]\s/.exec(text);
  if (leading) return leading[1];
  const parens = [...text.matchAll(/\(([A-J])\)/g)];
  return parens.length > 0 ? parens[parens.length - 1][1] : undefined;
}

export interface Graded {
  /** What the response's answer was read as; null when it gives none. */
  extracted: string | null;
  /** The reference's answer. */
  expected: string;
  correct: boolean;
}

/** Extracts the answers of a response and its reference in `format` and compares them. */
export function gradeAnswer(format: AnswerFormat, response: string, reference: string): Graded {
  const extract = { gsm8k: extractGsm8k, math: extractMath, choice: extractChoice }[format];
  const expected = extract(reference) ?? reference.trim(),
    got = extract(response);
  if (got === undefined) return { extracted: null, expected, correct: false };
  const correct =
    format === "gsm8k"
      ? Number(got) === Number(expected)
      : format === "math"
        ? mathEqual(got, expected)
        : got === expected.replace(/[()\s.]/g, "").toUpperCase();
  return { extracted: got, expected, correct };
}

const MathLine = z
  .object({
    prompt: z.string().min(1).optional(),
    question: z.string().min(1).optional(),
    problem: z.string().min(1).optional(),
    answer: z.string().optional(),
    solution: z.string().optional(),
  })
  .refine((v) => (v.prompt ?? v.question ?? v.problem) !== undefined, 'needs "prompt", "question" or "problem"')
  .refine((v) => (v.answer ?? v.solution) !== undefined, 'needs "answer" or "solution" (the reference)')
  .transform((v) => ({ prompt: (v.prompt ?? v.question ?? v.problem)!, reference: (v.answer ?? v.solution)! }));

/** Problems from JSONL: {"prompt" | "question" | "problem", "answer" | "solution"} per line. */
export const readMathData = (path: string): { prompt: string; reference: string }[] =>
  readJsonl(path, MathLine).map((l) => l.value);

export interface MathSummary {
  n: number;
  correct: number;
  /** Responses with no answer in the format. */
  unextracted: number;
  accuracy: number | null;
  accuracy_ci: Interval | null;
}

/** Grades responses[i] against items[i]; accuracy with a bootstrap 95% interval from `seed`. */
export function mathAccuracy(
  items: readonly { prompt: string; reference: string }[],
  responses: readonly string[],
  format: AnswerFormat,
  seed = 0,
): { summary: MathSummary; results: ({ prompt: string; response: string } & Graded)[] } {
  const results = items.map((it, i) => ({
    prompt: it.prompt,
    response: responses[i],
    ...gradeAnswer(format, responses[i], it.reference),
  }));
  const acc = meanWithInterval(
    results.map((r) => (r.correct ? 1 : 0)),
    { seed },
  );
  return {
    summary: {
      n: results.length,
      correct: results.filter((r) => r.correct).length,
      unextracted: results.filter((r) => r.extracted === null).length,
      accuracy: acc.value,
      accuracy_ci: acc.ci,
    },
    results,
  };
}
