// Preference pairs in the principle world, labelled by its checkers (the analogue of human labels): of two answers
// to a world prompt, the one with the higher mean pass rate over the applicable features is chosen; equal rates give
// no pair. Answers come from the world's templates (`templatedPairs`, fast: tests) or from a model (the RM
// experiment). `withLabelNoise` makes the noisy "public" kind: a share of pairs flipped and a share turned into
// forced choices between equally good answers. Rows are TRL preference lines (prompt/chosen/rejected), so every
// `sso rm` command reads them.
import { mixSeed, Rng } from "../tensor/rng.js";
import { writeAnswer } from "../world/answers.js";
import { checkResponse, meanPass, WORLD_FEATURES, type WorldFeature } from "../world/check.js";
import type { WorldPrompt } from "../world/world.js";

export interface WorldPair {
  prompt: string;
  chosen: string;
  rejected: string;
  /** The checker's mean pass rates (chosen > rejected unless the label is noise). */
  scores: [number, number];
}

/** The checker-labelled pair of two answers, or null when the checkers rate them equally. */
export function labelByCheckers(p: WorldPrompt, a: string, b: string): WorldPair | null {
  const sa = meanPass(checkResponse(p, a)) ?? 0,
    sb = meanPass(checkResponse(p, b)) ?? 0;
  if (sa === sb) return null;
  return sa > sb
    ? { prompt: p.text, chosen: a, rejected: b, scores: [sa, sb] }
    : { prompt: p.text, chosen: b, rejected: a, scores: [sb, sa] };
}

/** Each feature is a defect with probability ½. */
function randomDefects(rng: Rng): WorldFeature[] {
  return WORLD_FEATURES.filter(() => rng.uniform() < 0.5);
}

/** Two templated answers per prompt with random defects, labelled by the checkers (ties dropped). */
export function templatedPairs(prompts: readonly WorldPrompt[], seed: number): WorldPair[] {
  return prompts.flatMap((p, i) => {
    const rng = new Rng(mixSeed(seed, i));
    const pair = labelByCheckers(p, writeAnswer(p, randomDefects(rng), rng), writeAnswer(p, randomDefects(rng), rng));
    return pair ? [pair] : [];
  });
}

/**
 * The noisy kind: each pair independently flipped with probability `flip`; and `ties` (a share of the pairs' count)
 * extra forced choices between two answers the checkers rate equally, in random order (`tiePool`).
 */
export function withLabelNoise(
  pairs: readonly WorldPair[],
  tiePool: readonly WorldPair[],
  opts: { flip: number; ties: number; seed: number },
): WorldPair[] {
  const rng = new Rng(opts.seed);
  const flipped = pairs.map((p) =>
    rng.uniform() < opts.flip
      ? {
          prompt: p.prompt,
          chosen: p.rejected,
          rejected: p.chosen,
          scores: [p.scores[1], p.scores[0]] as [number, number],
        }
      : p,
  );
  const nTies = Math.min(tiePool.length, Math.round(opts.ties * pairs.length));
  return [...flipped, ...rng.shuffle([...tiePool]).slice(0, nTies)];
}

export const pairLines = (pairs: readonly WorldPair[]): string =>
  pairs.map((p) => `${JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })}\n`).join("");
