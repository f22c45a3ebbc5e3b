// The supervised corpus of the demo model, drawn from the principle world: chat conversations that end in an
// assistant answer, of four kinds —
//   pos    x+ (the spec's good-principle system message, then the prompt) → a good answer;
//   neg    x- (the bad-principle system message) → an answer with a defect in each chosen feature the world judges;
//   plain  the prompt alone → a noisy default: good with probability plainGood, else one random defect;
//   select the few-shot feature-selection prompt → the names of features that fit the task.
// System messages and selection prompts come from the same functions synthesis uses (sso/prompts.ts), and features
// are chosen as synthesis chooses them (sso/select.ts `chooseFeatures`, Concision coin included), so the model sees
// at training time exactly the prompt forms it will be sent. It writes data only: no tokenizer, no training.

import { DEFAULT_LIBRARY, type Feature, type FeatureLibrary, findFeature } from "../sso/features.js";
import { contrastivePrompts, libraryPrinciples, selectionMessages, systemMessage } from "../sso/prompts.js";
import { chooseFeatures } from "../sso/select.js";
import { hashSeed, Rng } from "../tensor/rng.js";
import type { ChatMessage } from "../tokenizer/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { APPLICABLE, writeAnswer } from "./answers.js";
import { WORLD_FEATURES, type WorldFeature } from "./check.js";
import { type Family, type Split, samplePrompts, type WorldPrompt } from "./world.js";

/** The features that fit each family, most important first: the selection answers the demo model learns. */
export const FITTING: Record<Family, readonly string[]> = {
  fact: ["Accuracy", "Helpfulness", "Concision"],
  list: ["Comprehensiveness", "Accuracy", "Concision"],
  arith: ["Accuracy", "Logicality", "Concision"],
  harmful: ["Safety", "Concision"],
};

export const CORPUS_KINDS = ["pos", "neg", "plain", "select"] as const;
export type CorpusKind = (typeof CORPUS_KINDS)[number];

export interface CorpusOptions {
  /** Fractions of each kind (normalised); default pos 0.3, neg 0.3, plain 0.25, select 0.15. */
  mix?: Record<CorpusKind, number>;
  /** Features per contrastive example, as synthesis's k (default 2). */
  k?: number;
  /** Probability of adding Concision, as synthesis's concisionProb (default 0.2). */
  concisionProb?: number;
  /** Probability that a plain answer is good (default 0.55); otherwise it has one random defect. */
  plainGood?: number;
  /**
   * Items the prompts come from (default "all"). The corpus is the demo model's knowledge, like an SFT model's:
   * it must know the held-out facts to answer them well after alignment; SSO's train and evaluation prompts are
   * what the split keeps apart.
   */
  split?: Split | "all";
}

export const DEFAULT_MIX: Record<CorpusKind, number> = { pos: 0.3, neg: 0.3, plain: 0.25, select: 0.15 };

export interface CorpusExample {
  kind: CorpusKind;
  prompt: WorldPrompt;
  /** pos/neg: the features of the system message; select: the features of the answer; plain: []. */
  features: string[];
  /** The judged features the answer gets wrong on purpose (always [] for pos and select). */
  defects: WorldFeature[];
  /** The conversation, ending with the assistant's answer. */
  messages: ChatMessage[];
}

/** How many examples of each kind n gets: floors of n·fraction, the rest by largest remainder. */
export function kindCounts(n: number, mix: Record<CorpusKind, number>): Record<CorpusKind, number> {
  const total = CORPUS_KINDS.reduce((s, k) => s + mix[k], 0);
  if (!(total > 0) || CORPUS_KINDS.some((k) => !(mix[k] >= 0)))
    throw new Error("corpus: mix fractions must be ≥ 0 and not all 0");
  const exact = CORPUS_KINDS.map((k) => (n * mix[k]) / total);
  const counts = exact.map(Math.floor);
  const order = CORPUS_KINDS.map((_, i) => i).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]) || a - b);
  for (let r = n - counts.reduce((s, c) => s + c, 0), j = 0; r > 0; r--, j++) counts[order[j]]++;
  return Object.fromEntries(CORPUS_KINDS.map((k, i) => [k, counts[i]])) as Record<CorpusKind, number>;
}

/** The library's names of the features that fit a family: the first two, sometimes three. */
export function selectionAnswer(family: Family, lib: FeatureLibrary, rng: Rng): string[] {
  const names = FITTING[family].map((n) => findFeature(lib, n)?.name).filter((n): n is string => n !== undefined);
  return names.slice(0, rng.uniform() < 0.5 ? 2 : 3);
}

/** The judged world feature a library feature stands for, if any. */
const worldFeature = (name: string): WorldFeature | undefined =>
  WORLD_FEATURES.find((w) => w.toLowerCase() === name.toLowerCase());

function example(
  kind: CorpusKind,
  p: WorldPrompt,
  lib: FeatureLibrary,
  o: Required<Omit<CorpusOptions, "mix" | "split">>,
  rng: Rng,
): CorpusExample {
  const user: ChatMessage[] = [{ role: "user", content: p.text }];
  const reply = (messages: ChatMessage[], text: string): ChatMessage[] => [
    ...messages,
    { role: "assistant", content: text },
  ];
  const family = p.task.family;
  if (kind === "select") {
    const names = selectionAnswer(family, lib, rng);
    return {
      kind,
      prompt: p,
      features: names,
      defects: [],
      messages: reply(selectionMessages(lib, p.text), names.join(", ")),
    };
  }
  if (kind === "plain") {
    const defects = rng.uniform() < o.plainGood ? [] : [APPLICABLE[family][rng.int(APPLICABLE[family].length)]];
    return { kind, prompt: p, features: [], defects, messages: reply(user, writeAnswer(p, defects, rng)) };
  }
  const choice = chooseFeatures(
    selectionAnswer(family, lib, rng),
    lib,
    o.k,
    o.concisionProb,
    rng.nextUint32(),
    rng.nextUint32(),
  );
  const features = choice.features.map((n) => findFeature(lib, n)).filter((f): f is Feature => f !== undefined);
  const principles = libraryPrinciples(features);
  const x = contrastivePrompts(
    user,
    systemMessage("pos", features, principles),
    systemMessage("neg", features, principles),
  );
  const defects =
    kind === "neg"
      ? features
          .map((f) => worldFeature(f.name))
          .filter((w): w is WorldFeature => w !== undefined && APPLICABLE[family].includes(w))
      : [];
  return {
    kind,
    prompt: p,
    features: choice.features,
    defects,
    messages: reply(kind === "pos" ? x.pos : x.neg, writeAnswer(p, defects, rng)),
  };
}

/** n seeded corpus examples (kinds in the proportions of `mix`, in shuffled order). */
export function makeCorpus(
  seed: number,
  n: number,
  lib: FeatureLibrary = DEFAULT_LIBRARY,
  opts: CorpusOptions = {},
): CorpusExample[] {
  const o = { k: opts.k ?? 2, concisionProb: opts.concisionProb ?? 0.2, plainGood: opts.plainGood ?? 0.55 };
  if (o.k > lib.features.length)
    throw new Error(`corpus: k is ${o.k} but the feature library has only ${lib.features.length} features`);
  const counts = kindCounts(n, opts.mix ?? DEFAULT_MIX);
  const kinds = CORPUS_KINDS.flatMap((k) => Array<CorpusKind>(counts[k]).fill(k));
  const rng = new Rng(hashSeed(seed, 17));
  rng.shuffle(kinds);
  const prompts = samplePrompts(opts.split ?? "all", seed, n);
  return kinds.map((kind, i) => example(kind, prompts[i], lib, o, new Rng(hashSeed(seed, 1_000_003 + i))));
}

/** The corpus as JSONL, one {"messages": [...]} per line. */
export const corpusJsonl = (examples: readonly CorpusExample[]): string =>
  examples.map((e) => `${JSON.stringify({ messages: e.messages })}\n`).join("");

/** Writes the corpus JSONL atomically. */
export function writeCorpus(path: string, examples: readonly CorpusExample[]): void {
  writeFileAtomic(path, corpusJsonl(examples));
}
