// Our judge prompts and the parsers of the judge's replies, written for this project. Pairwise: the judge sees a
// request and two answers labelled A and B and ends with "Verdict: A", "Verdict: B" or "Verdict: tie". Single-answer
// grading (MT-Bench style): the judge sees a conversation (one or more turns), grades the last answer from 1 to 10,
// optionally against a reference answer, and ends with "Score: N". When a reply has no such line the judge is asked
// once more (the *_FIX messages). PROMPT_VERSION is part of every cache key: edit a prompt, bump it.
import type { ChatMessage } from "../tokenizer/tokenizer.js";

export const PROMPT_VERSION = "sso-judge-v1";

export type Verdict = "A" | "B" | "tie";

const PAIRWISE_SYSTEM = `You are the referee between two answers to one request. Decide which answer better serves the person who asked: is it correct, does it do what was asked (no more, no less), is it clear, is it honest about what it does not know, and does it refuse only what should be refused. A longer answer is not better for being longer. The order in which the answers appear means nothing. Reason in at most a few sentences, then end with exactly one line, one of:
Verdict: A
Verdict: B
Verdict: tie`;

export const PAIRWISE_FIX =
  "Your reply did not end with a verdict line. Reply with one line only: Verdict: A, Verdict: B or Verdict: tie.";

/** The messages asking the judge to compare answer A with answer B for `instruction`. */
export function pairwiseMessages(instruction: string, a: string, b: string): ChatMessage[] {
  return [
    { role: "system", content: PAIRWISE_SYSTEM },
    {
      role: "user",
      content: `# Request\n${instruction}\n\n# Answer A\n${a}\n\n# Answer B\n${b}\n\nWhich answer is better?`,
    },
  ];
}

/** The last "Verdict: A|B|tie" line of a reply (markdown emphasis and brackets allowed); null when there is none. */
export function parseVerdict(reply: string): Verdict | null {
  const all = [...reply.matchAll(/[Vv]erdict\s*[:：]?\s*[*[\s]*(A|B|[Tt]ie|TIE)(?![A-Za-z])/g)];
  if (all.length === 0) return null;
  const v = all[all.length - 1][1];
  return v === "A" || v === "B" ? v : "tie";
}

const GRADE_SYSTEM = `You grade the last answer of an AI assistant in a conversation, on a scale from 1 (useless or wrong) to 10 (could not be better). Weigh correctness first, then whether it does what was asked, then clarity and depth; length alone earns nothing. When a reference answer is given, an answer whose result disagrees with the reference is wrong, however well written. Explain your grade in a few sentences, then end with exactly one line:
Score: N
where N is an integer from 1 to 10.`;

export const GRADE_FIX =
  "Your reply did not end with a score line. Reply with one line only: Score: N, with N an integer from 1 to 10.";

/**
 * The messages asking the judge to grade the assistant's answer to the last user turn of `turns` (user and
 * assistant alternating, ending with the answer to grade), with the reference answer of that turn when given.
 */
export function gradeMessages(turns: readonly ChatMessage[], reference?: string): ChatMessage[] {
  const history = turns
    .slice(0, -1)
    .map((m) => `## ${m.role === "user" ? "User" : "Assistant"}\n${m.content}`)
    .join("\n\n");
  const last = turns[turns.length - 1].content;
  return [
    { role: "system", content: GRADE_SYSTEM },
    {
      role: "user",
      content:
        `# Conversation\n${history}\n\n` +
        (reference === undefined ? "" : `# Reference answer to the last user turn\n${reference}\n\n`) +
        `# Answer to grade (the assistant's reply to the last user turn)\n${last}`,
    },
  ];
}

/** The last "Score: N" of a reply with N an integer in 1..10 ("Score: 7/10" and "**Score:** 7" too); else null. */
export function parseScore(reply: string): number | null {
  const all = [...reply.matchAll(/[Ss]core\s*[:：]?\s*[*[\s]*(\d+)(?:\s*\/\s*10)?/g)];
  if (all.length === 0) return null;
  const n = Number(all[all.length - 1][1]);
  return n >= 1 && n <= 10 ? n : null;
}
