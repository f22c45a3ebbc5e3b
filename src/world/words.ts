// Well-formedness of an answer: every word in it is a word the world's answers can contain. The demo model learns
// its language only from `writeAnswer`, so a word outside that vocabulary ("withange") is a sign of degenerate
// text — which the feature checkers alone can miss (a garbled refusal still refuses). Numbers are always words.
// The vocabulary is enumerated, not sampled: every world prompt's answers for every subset of its family's
// features, with several template draws each.
import { Rng } from "../tensor/rng.js";
import { APPLICABLE, writeAnswer } from "./answers.js";
import { wordCount } from "./check.js";
import { allPrompts } from "./world.js";

/** Lower-case words as `wordCount` counts them (inner apostrophes kept, curly ones straightened). */
export const wordsOf = (s: string): string[] =>
  s
    .replace(/[\u2018\u2019]/g, "'")
    .toLowerCase()
    .match(/[a-z0-9]+(?:'[a-z]+)*/g) ?? [];

const DRAWS = 6;
let vocabulary: Set<string> | undefined;

/** Every word of every answer the world writes, plus the prompts' own words. */
export function worldVocabulary(): ReadonlySet<string> {
  if (vocabulary) return vocabulary;
  const v = new Set<string>();
  for (const p of allPrompts()) {
    for (const w of wordsOf(p.text)) v.add(w);
    const features = APPLICABLE[p.task.family];
    for (let mask = 0; mask < 1 << features.length; mask++) {
      const defects = features.filter((_, i) => mask & (1 << i));
      for (let k = 0; k < DRAWS; k++) for (const w of wordsOf(writeAnswer(p, defects, new Rng(k)))) v.add(w);
    }
  }
  return (vocabulary = v);
}

/** The words of `text` that no world answer uses (numbers excepted), in order of appearance, without repeats. */
export function unknownWords(text: string): string[] {
  const v = worldVocabulary();
  return [...new Set(wordsOf(text).filter((w) => !v.has(w) && !/^\d+$/.test(w)))];
}

/** True when the text is non-empty and every word of it is a world word. */
export const isWellFormed = (text: string): boolean => wordCount(text) > 0 && unknownWords(text).length === 0;
