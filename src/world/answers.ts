// Templated answers to world prompts for the demo model's corpus: a good answer (accurate, complete, logical,
// helpful, safe, concise) or one with defects in chosen features — a wrong value, a missing member or an intruder,
// a worked step that does not add up, an evasive hedge, padding, or going along with a harmful request. Seeded
// variation in wording; every answer is short (the demo model reads bytes). "Unsafe" answers are placeholders with
// no real content: the world only needs a refusal to be absent and a compliance marker present. This file does not
// decide which defects an example gets (corpus.ts) and does not judge answers (check.ts).

import { joinWords } from "../sso/prompts.js";
import type { Rng } from "../tensor/rng.js";
import { matchForm, namedPhrases, type WorldFeature } from "./check.js";
import type { Family, Task, WorldPrompt } from "./world.js";

/** The features the checker judges for each family — and that an answer can get wrong on purpose. */
export const APPLICABLE: Record<Family, readonly WorldFeature[]> = {
  fact: ["Accuracy", "Helpfulness", "Concision"],
  list: ["Accuracy", "Comprehensiveness", "Helpfulness", "Concision"],
  arith: ["Accuracy", "Logicality", "Helpfulness", "Concision"],
  harmful: ["Safety", "Concision"],
};

const pick = <T>(xs: readonly T[], rng: Rng): T => xs[rng.int(xs.length)];
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const an = (w: string): string => (/^[aeiou]/i.test(w) ? `an ${w}` : `a ${w}`);

/** Padding for a verbose answer: each at least 14 words, with no answer word, digit, refusal or compliance marker. */
export const PREAMBLES = [
  "Well, that is a good question, so let me think it over for a while.",
  "Thank you for asking me this question, which I am very glad to answer.",
];
export const CLOSINGS = [
  "I hope that this answer is clear and that it helps you a great deal.",
  "Please feel free to ask me again if anything here is not yet clear.",
];
/** Evasive non-answers (Helpfulness fails): no answer word and no digit. */
export const HEDGES = [
  "That depends on many things, so it is not easy to say.",
  "You could look that up in a good book.",
  "Good question. There is more than one way to see it.",
];
/** Declining a harmful request (Safety passes). */
export const REFUSALS = [
  "I can't help with that, because it could hurt people.",
  "Sorry, I won't help with that. It is harmful and against the law.",
  "I cannot help with this request, as it could cause harm.",
];
/** Going along with a harmful request — a marker with no content (Safety fails). */
export const COMPLIANCES = [
  "Sure! Step 1: ... Step 2: ... (This toy world has no real harmful content.)",
  "Sure, here is how. Step 1: ... Step 2: ... (No real harmful content in this toy world.)",
];

const SAY: Record<string, readonly ((s: string, v: string) => string)[]> = {
  capital: [
    (s, v) => `The capital of ${s} is ${v}.`,
    (s, v) => `${v} is the capital of ${s}.`,
    (_, v) => `It is ${v}.`,
  ],
  colour: [(s, v) => `${cap(s)} is ${v}.`, (_, v) => `It is ${v}.`, (_, v) => `${cap(v)}.`],
  sound: [(s, v) => `${cap(s)} says ${v}.`, (_, v) => `It goes ${v}.`, (_, v) => `${cap(v)}!`],
  kind: [(s, v) => `${cap(s)} is ${an(v)}.`, (_, v) => `It is ${an(v)}.`],
  opposite: [(s, v) => `The opposite of ${s} is ${v}.`, (_, v) => `It is ${v}.`, (_, v) => `${cap(v)}.`],
};

/** A value of `domain` that is not `avoid` and not named in the prompt (a plausible wrong answer). */
function wrongValue(domain: readonly string[], avoid: readonly string[], promptText: string, rng: Rng): string {
  const taken = new Set([...avoid, ...namedPhrases(promptText, domain)].map(matchForm));
  return pick(
    domain.filter((v) => !taken.has(matchForm(v))),
    rng,
  );
}

function factAnswer(
  p: WorldPrompt,
  t: Extract<Task, { family: "fact" }>,
  d: ReadonlySet<WorldFeature>,
  rng: Rng,
): string {
  const value = d.has("Accuracy") ? wrongValue(t.domain, [t.answer], p.text, rng) : t.answer;
  return pick(SAY[t.relation], rng)(t.subject, value);
}

function listAnswer(
  p: WorldPrompt,
  t: Extract<Task, { family: "list" }>,
  d: ReadonlySet<WorldFeature>,
  rng: Rng,
): string {
  const items = [...t.members];
  const partial = d.has("Comprehensiveness");
  if (partial) {
    const keep = Math.max(1, Math.floor(items.length / 2));
    while (items.length > keep) items.splice(rng.int(items.length), 1);
  }
  if (d.has("Accuracy")) items.push(wrongValue(t.domain, t.members, p.text, rng));
  const list = joinWords(items);
  if (partial)
    return items.length === 1
      ? `One of them is ${list}.`
      : pick([`Some of them are ${list}.`, `They include ${list}.`], rng);
  return pick([`The ${t.title} are ${list}.`, `They are ${list}.`, `${cap(list)}.`], rng);
}

function arithAnswer(t: Extract<Task, { family: "arith" }>, d: ReadonlySet<WorldFeature>, rng: Rng): string {
  let { a, b } = t;
  const apply = (x: number, y: number) => (t.op === "+" ? x + y : x - y);
  if (d.has("Accuracy") && !d.has("Logicality")) {
    // Misread an operand: a true step and a final answer that agrees with it, for the wrong question.
    if (t.op === "+" ? b < 9 : b < a) b += 1;
    else if (b > 0) b -= 1;
    else a += 1;
  }
  const c = apply(a, b),
    step = `${a} ${t.op} ${b}`;
  const close = pick(["The answer is", "So the answer is"], rng);
  if (d.has("Accuracy") && d.has("Logicality")) return `${step} = ${c}. ${close} ${c + 1}.`; // true step, final disagrees
  if (d.has("Logicality")) return `${step} = ${c + 1}. ${close} ${c}.`; // false step, right final answer
  return pick(
    [`${step} = ${c}. The answer is ${c}.`, `${step} = ${c}, so the answer is ${c}.`, `${step} = ${c}.`],
    rng,
  );
}

const harmfulAnswer = (d: ReadonlySet<WorldFeature>, rng: Rng): string =>
  pick(d.has("Safety") ? COMPLIANCES : REFUSALS, rng);

/**
 * An answer to `p` that fails exactly the judged features in `defects` that apply to its family (others are
 * ignored); none → a good answer. An evasive hedge (Helpfulness) also names no answer, so Accuracy,
 * Comprehensiveness and Logicality fail with it.
 */
export function writeAnswer(p: WorldPrompt, defects: Iterable<WorldFeature>, rng: Rng): string {
  const d = new Set([...defects].filter((f) => APPLICABLE[p.task.family].includes(f)));
  const t = p.task;
  let core: string;
  if (d.has("Helpfulness")) core = pick(HEDGES, rng);
  else if (t.family === "fact") core = factAnswer(p, t, d, rng);
  else if (t.family === "list") core = listAnswer(p, t, d, rng);
  else if (t.family === "arith") core = arithAnswer(t, d, rng);
  else core = harmfulAnswer(d, rng);
  if (!d.has("Concision")) return core;
  return rng.uniform() < 0.5 ? `${pick(PREAMBLES, rng)} ${core}` : `${core} ${pick(CLOSINGS, rng)}`;
}
