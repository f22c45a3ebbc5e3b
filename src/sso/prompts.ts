// The texts of SSO synthesis (METHOD.md §2.1–2.3), in our own wording: the few-shot feature-selection prompt and its
// lenient parser, the query-specific principle prompt and its JSON parser (falling back to the library), and the
// contrastive prompts x+, x- and x as chat messages. Pure functions of strings; no tokenizer, no model, no chance.
import type { ChatMessage } from "../tokenizer/tokenizer.js";
import type { Feature, FeatureLibrary } from "./features.js";

/** The query as the policy sees it inside our prompts: the user message, or the whole conversation. */
export function queryText(messages: readonly ChatMessage[]): string {
  if (messages.length === 1) return messages[0].content;
  return messages.map((m) => `${m.role === "user" ? "User" : "Assistant"}: ${m.content}`).join("\n\n");
}

/** "a", "a and b", "a, b and c". */
export function joinWords(words: readonly string[]): string {
  return words.length <= 1 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

// ---- feature selection ----

const SELECTION_INSTRUCTIONS = (lib: FeatureLibrary): string =>
  "You decide which qualities matter most in a good answer to a user's query.\n\n" +
  "Features:\n" +
  lib.features.map((f) => `- ${f.name}: ${f.description}`).join("\n") +
  "\n\n" +
  "For each query, reply with the names of the most relevant features, most important first, separated by " +
  "commas, and nothing else.";

const queryTurn = (query: string): string => `Query: ${query}`;

/** The few-shot selection prompt: instructions and examples as earlier turns, then the query. */
export function selectionMessages(lib: FeatureLibrary, query: string): ChatMessage[] {
  const turns = [
    ...lib.examples.map((ex) => ({ query: ex.query, answer: ex.features.join(", ") })),
    { query, answer: undefined },
  ];
  const messages: ChatMessage[] = [];
  turns.forEach((t, i) => {
    messages.push({
      role: "user",
      content: (i === 0 ? `${SELECTION_INSTRUCTIONS(lib)}\n\n` : "") + queryTurn(t.query),
    });
    if (t.answer !== undefined) messages.push({ role: "assistant", content: t.answer });
  });
  return messages;
}

const normalize = (s: string): string =>
  s
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, " ")
    .trim();

/**
 * The feature names in the policy's answer, in order of appearance, each once. Lenient: case, spacing, bullets,
 * numbering, quotes, "and", and the adjectives or aliases of a feature all work; unknown words are ignored; the
 * text after a "Query:" the model went on to invent is not read.
 */
export function parseFeatureList(text: string, lib: FeatureLibrary): string[] {
  const words = new Map<string, string>(); // normalised alias → feature name; the first feature claiming an alias wins
  for (const f of lib.features) {
    for (const alias of [f.name, f.good, f.bad, ...f.aliases].map(normalize))
      if (alias && !words.has(alias)) words.set(alias, f.name);
  }
  const cut = text.search(/query\s*:/i);
  const names: string[] = [];
  // Punctuation separates list items, so a multi-word alias never spans two of them.
  for (const segment of (cut >= 0 ? text.slice(0, cut) : text).split(/[,;:.!?\n\r\t•·|/()[\]{}"'`*]+/)) {
    for (const name of aliasHits(` ${normalize(segment)} `, words)) if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** Feature names of the aliases in a normalised, space-padded text, by position; the longer of overlapping aliases wins. */
function aliasHits(hay: string, words: Map<string, string>): string[] {
  const hits: { at: number; len: number; name: string }[] = [];
  for (const [alias, name] of words) {
    for (let at = hay.indexOf(` ${alias} `); at >= 0; at = hay.indexOf(` ${alias} `, at + 1))
      hits.push({ at, len: alias.length, name });
  }
  hits.sort((a, b) => a.at - b.at || b.len - a.len);
  const out: string[] = [];
  let end = -1;
  for (const h of hits) {
    if (h.at < end) continue; // inside a longer alias already taken
    end = h.at + h.len + 1;
    out.push(h.name);
  }
  return out;
}

// ---- query-specific principles ----

export interface Principle {
  feature: string;
  good: string;
  bad: string;
  source: "policy" | "library";
}

const PRINCIPLE_EXAMPLE = {
  query: "How do I get rid of old lithium batteries at home?",
  answer: {
    Safety: {
      good: "Warn that damaged or swollen cells can catch fire, and explain how to tape the terminals and store them away from heat until drop-off.",
      bad: "Suggest throwing the batteries in the household bin or breaking them open, with no word about fire risk.",
    },
    Helpfulness: {
      good: "Name the concrete places that accept lithium batteries, such as recycling centres and electronics shops, and what to bring.",
      bad: "Say that disposal rules vary and that the user should look it up, without naming a single option.",
    },
  },
};

const principleRequest = (features: readonly Feature[], query: string): string =>
  "Write guidance for answering the query below. For each listed feature, give one principle that a good answer " +
  "follows and one that a bad answer follows, each one or two sentences about this particular query.\n\n" +
  `Features: ${features.map((f) => `${f.name} (${f.good} / ${f.bad})`).join(", ")}\n\n` +
  `Query: ${query}\n\n` +
  `Reply with JSON only, in this form: {${features.map((f) => `"${f.name}": {"good": "...", "bad": "..."}`).join(", ")}}`;

/** The principle-writing prompt: one worked example, then the query with its features. */
export function principleMessages(lib: FeatureLibrary, features: readonly Feature[], query: string): ChatMessage[] {
  const exampleFeatures = Object.keys(PRINCIPLE_EXAMPLE.answer).map((n) => lib.features.find((f) => f.name === n));
  const example: ChatMessage[] = exampleFeatures.every((f) => f !== undefined)
    ? [
        { role: "user", content: principleRequest(exampleFeatures, PRINCIPLE_EXAMPLE.query) },
        { role: "assistant", content: JSON.stringify(PRINCIPLE_EXAMPLE.answer) },
      ]
    : [];
  return [...example, { role: "user", content: principleRequest(features, query) }];
}

/** The first balanced {...} in text (braces inside JSON strings ignored), or undefined. */
function firstJsonObject(text: string): string | undefined {
  const start = text.indexOf("{");
  if (start < 0) return undefined;
  let depth = 0,
    inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

/** The policy's principles for each feature; a feature missing or malformed in its JSON gets the library's texts. */
export function parsePrinciples(text: string, features: readonly Feature[]): Principle[] {
  let parsed: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(firstJsonObject(text) ?? "null");
    if (v && typeof v === "object" && !Array.isArray(v)) parsed = v as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  const byKey = new Map(Object.entries(parsed).map(([k, v]) => [normalize(k), v]));
  return features.map((f) => {
    const v = byKey.get(normalize(f.name)) as { good?: unknown; bad?: unknown } | undefined;
    const good = typeof v?.good === "string" ? v.good.trim() : "",
      bad = typeof v?.bad === "string" ? v.bad.trim() : "";
    return good && bad
      ? { feature: f.name, good, bad, source: "policy" }
      : { feature: f.name, good: f.goodPrinciple, bad: f.badPrinciple, source: "library" };
  });
}

/** The library's principles for the features. */
export function libraryPrinciples(features: readonly Feature[]): Principle[] {
  return features.map((f) => ({ feature: f.name, good: f.goodPrinciple, bad: f.badPrinciple, source: "library" }));
}

// ---- contrastive prompts ----

/** The system message of x+ (good adjectives and principles) or x- (bad ones). */
export function systemMessage(
  polarity: "pos" | "neg",
  features: readonly Feature[],
  principles: readonly Principle[],
): string {
  const adjectives = features.map((f) => (polarity === "pos" ? f.good : f.bad));
  const rules = principles.map((p) => `- ${polarity === "pos" ? p.good : p.bad}`);
  return (
    `Your answer should be ${joinWords(adjectives)}.\n\nGuidelines:\n${rules.join("\n")}\n\n` +
    "Follow the guidelines, but do not mention them or refer to them in your answer."
  );
}

/** x+ and x- put their system message before the conversation; x is the conversation alone. */
export function contrastivePrompts(
  prompt: readonly ChatMessage[],
  systemPos: string,
  systemNeg: string,
): { pos: ChatMessage[]; neg: ChatMessage[]; plain: ChatMessage[] } {
  return {
    pos: [{ role: "system", content: systemPos }, ...prompt],
    neg: [{ role: "system", content: systemNeg }, ...prompt],
    plain: [...prompt],
  };
}
