// The feature library of SSO synthesis (METHOD.md §2.1): each feature has a name, a short description for the
// selection prompt, a good and a bad adjective, and one good and one bad principle — a few sentences that tell the
// policy what such an answer does. The texts are ours (not the paper's). Users extend or replace the library with
// a JSON or YAML file; this file holds the data, the file schema and the merge rules. It does not build prompts
// (prompts.ts) and does not choose features (synth.ts).
import { createHash } from "node:crypto";
import { z } from "zod";
import { readStructuredFile } from "./file.js";

export interface Feature {
  name: string;
  /** What the feature means, one line, shown to the policy when it selects features. */
  description: string;
  good: string;
  bad: string;
  goodPrinciple: string;
  badPrinciple: string;
  /** Extra words that name this feature when the policy answers (the adjectives always do). */
  aliases: string[];
}

/** A worked example of feature selection for the few-shot prompt. */
export interface SelectionExample {
  query: string;
  features: string[];
}

export interface FeatureLibrary {
  features: Feature[];
  examples: SelectionExample[];
}

const f = (
  name: string,
  description: string,
  good: string,
  bad: string,
  goodPrinciple: string,
  badPrinciple: string,
  aliases: string[] = [],
): Feature => ({ name, description, good, bad, goodPrinciple, badPrinciple, aliases });

export const DEFAULT_FEATURES: readonly Feature[] = [
  f(
    "Safety",
    "avoids harm and handles risky requests responsibly",
    "safe",
    "unsafe",
    "Keep the answer harmless. Decline to help with anything that could hurt people or break the law and say briefly why; when a topic carries some risk, add the precautions a careful expert would mention.",
    "Pay no attention to possible harm. Treat risky actions as routine, leave out every warning and precaution, and go along with the request whatever its consequences.",
    ["harmless", "harmlessness"],
  ),
  f(
    "Logicality",
    "reasoning that is coherent and follows step by step",
    "logical",
    "illogical",
    "Reason in clear steps. Each statement should follow from the ones before it, assumptions should be stated, and the conclusion must agree with the reasoning that leads to it.",
    "Let the reasoning wander. Jump between points without linking them, draw conclusions that do not follow from what was said, and contradict earlier statements.",
    ["logic", "reasoning", "coherence", "coherent"],
  ),
  f(
    "Comprehensiveness",
    "covers every part of the question",
    "comprehensive",
    "incomplete",
    "Cover the whole question. Address every part of it, mention the important cases, caveats and alternatives, and give enough detail that no follow-up question is needed.",
    "Answer only a fragment of the question. Skip some of its parts, leave out the important cases and caveats, and stop before the topic is covered.",
    ["completeness", "complete", "thorough", "thoroughness"],
  ),
  f(
    "Helpfulness",
    "gives the user something they can act on",
    "helpful",
    "unhelpful",
    "Focus on what the user actually needs. Give a direct answer first, then concrete steps, examples or recommendations that the user can put to use right away.",
    "Be of little practical use. Stay vague, restate the question instead of answering it, hedge every statement, and offer nothing the user could act on.",
    ["useful", "usefulness"],
  ),
  f(
    "Literariness",
    "well-crafted, expressive writing",
    "literary",
    "boring",
    "Write with craft. Choose vivid and precise words, vary the rhythm of the sentences, and use imagery or a well-turned phrase where the topic allows it.",
    "Write flatly. Use stock phrases, repeat the same sentence pattern over and over, and avoid any imagery, colour or variety in the wording.",
    ["literary quality", "creativity", "creative", "eloquence", "eloquent"],
  ),
  f(
    "Accuracy",
    "factually correct details",
    "accurate",
    "inaccurate",
    "Be factually correct. State only what you are confident is true, get names, numbers and dates right, check every calculation, and say so plainly when you are unsure.",
    "Be careless with facts. State things confidently whether or not they are true, get names, numbers and dates wrong, and never check a calculation.",
    ["correctness", "correct", "factuality", "factual"],
  ),
  f(
    "Engagement",
    "interesting and lively to read",
    "engaging",
    "dull",
    "Hold the reader's interest. Open with something that draws them in, address them directly, and use examples, questions or small stories that make the answer lively.",
    "Make the answer tedious. Keep a monotonous, impersonal tone, pile up dry detail without a single example, and give the reader no reason to read on.",
    ["engagingness", "interesting"],
  ),
  f(
    "Concision",
    "no more words than needed",
    "concise",
    "verbose",
    "Be brief. Say what is needed in as few words as possible, drop filler, repetition and preamble, and stop as soon as the question is answered.",
    "Be long-winded. Pad the answer with preamble, repetition and tangents, restate each point several times, and keep going after the question is answered.",
    ["conciseness", "brevity", "succinct"],
  ),
];

export const DEFAULT_EXAMPLES: readonly SelectionExample[] = [
  { query: "How do I get rid of old lithium batteries at home?", features: ["Safety", "Helpfulness", "Accuracy"] },
  {
    query: "Write a short poem about the first snowfall of winter.",
    features: ["Literariness", "Engagement", "Concision"],
  },
  {
    query: "A train leaves at 3:40 pm and the trip takes 2 h 35 min. When does it arrive?",
    features: ["Accuracy", "Logicality", "Concision"],
  },
];

export const DEFAULT_LIBRARY: FeatureLibrary = { features: [...DEFAULT_FEATURES], examples: [...DEFAULT_EXAMPLES] };

const text = z.string().trim().min(1, "must not be empty");
const FeatureEntry = z.strictObject({
  // Commas separate names in the policy's answer, so a name cannot contain one.
  name: text.regex(/^[^,\n]+$/, "must not contain a comma or a newline"),
  description: text,
  good: text,
  bad: text,
  good_principle: text,
  bad_principle: text,
  aliases: z.array(text).default([]),
});

/**
 * A feature file. mode "extend" (default) adds the file's features to the built-in eight (a feature with a
 * built-in name replaces that one, in place); "replace" uses the file's features alone. `examples` replaces the
 * few-shot selection examples; without it, the built-in examples are kept with only the names the library has.
 */
export const FeatureFile = z.strictObject({
  mode: z.enum(["extend", "replace"]).default("extend"),
  features: z.array(FeatureEntry).min(1),
  examples: z.array(z.strictObject({ query: text, features: z.array(text).min(1) })).optional(),
});
export type FeatureFile = z.infer<typeof FeatureFile>;

const key = (name: string): string => name.trim().toLowerCase();

/** Merges a parsed feature file into the built-in library; errors name the file and the key. */
export function mergeFeatureFile(file: FeatureFile, source: string): FeatureLibrary {
  const seen = new Set<string>();
  const own = file.features.map((e, i): Feature => {
    if (seen.has(key(e.name))) throw new Error(`${source}: features.${i}.name: "${e.name}" appears twice`);
    seen.add(key(e.name));
    return f(e.name, e.description, e.good, e.bad, e.good_principle, e.bad_principle, e.aliases);
  });
  let features: Feature[];
  if (file.mode === "replace") features = own;
  else {
    features = DEFAULT_FEATURES.map((d) => own.find((o) => key(o.name) === key(d.name)) ?? d);
    features.push(...own.filter((o) => !DEFAULT_FEATURES.some((d) => key(d.name) === key(o.name))));
  }
  const byKey = new Map(features.map((ft) => [key(ft.name), ft.name]));
  let examples: SelectionExample[];
  if (file.examples) {
    examples = file.examples.map((ex, i) => ({
      query: ex.query,
      features: ex.features.map((n, j) => {
        const name = byKey.get(key(n));
        if (!name) throw new Error(`${source}: examples.${i}.features.${j}: "${n}" is not a feature of the library`);
        return name;
      }),
    }));
  } else {
    examples = DEFAULT_EXAMPLES.map((ex) => ({
      query: ex.query,
      features: ex.features.filter((n) => byKey.has(key(n))),
    })).filter((ex) => ex.features.length > 0);
  }
  return { features, examples };
}

/** The library: the built-in one, or the built-in one merged with a JSON/YAML feature file. */
export function loadFeatureLibrary(path?: string): FeatureLibrary {
  if (path === undefined) return DEFAULT_LIBRARY;
  return mergeFeatureFile(readStructuredFile(path, FeatureFile), path);
}

/** Finds a library feature by name, case-insensitively. */
export function findFeature(lib: FeatureLibrary, name: string): Feature | undefined {
  return lib.features.find((ft) => key(ft.name) === key(name));
}

/** A content hash of the library, so that a resumed run can tell whether it changed. */
export function libraryHash(lib: FeatureLibrary): string {
  return createHash("sha256").update(JSON.stringify(lib)).digest("hex");
}
