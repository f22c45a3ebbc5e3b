// The random choices of synthesis. Every one for prompt i draws from its own stream seeded by (run seed,
// iteration, i, purpose) — never by batch position or chunk — so a record does not depend on batching or on a
// resume. Also the last step of feature selection: the policy's names cut to k, random padding, the Concision coin.
import { Rng } from "../tensor/rng.js";
import type { FeatureLibrary } from "./features.js";

/** The purposes that get their own random stream per prompt. */
export const STREAM = {
  selection: 1,
  padding: 2,
  concision: 3,
  principles: 4,
  chosen: 5,
  rejected: 6,
  raw: 7,
} as const;
export type Stream = keyof typeof STREAM;

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The seed of one purpose's stream for prompt `index` (0-based, in the prompts file). */
export function streamSeed(seed: number, iteration: number, index: number, stream: Stream): number {
  let h = 0x9e3779b9;
  for (const v of [seed, iteration, index, STREAM[stream]])
    h = fmix32((Math.imul(h ^ (v >>> 0), 0x01000193) + 0x7f4a7c15) >>> 0);
  return h;
}

export interface FeatureChoice {
  features: string[];
  /** How many of the features the policy named (the rest are padding or Concision). */
  fromPolicy: number;
  padded: number;
  concisionAdded: boolean;
}

export const CONCISION = "Concision";

/** The library's name for Concision (matched case-insensitively), if it has the feature. */
export const concisionFeature = (lib: FeatureLibrary): string | undefined =>
  lib.features.find((f) => f.name.toLowerCase() === CONCISION.toLowerCase())?.name;

/**
 * The prompt's features: the first k the policy named, padded with features drawn at random from the rest of the
 * library (padding stream), then Concision appended with probability concisionProb (its own stream, one draw per
 * prompt whatever the padding used) unless already chosen.
 */
export function chooseFeatures(
  named: readonly string[],
  lib: FeatureLibrary,
  k: number,
  concisionProb: number,
  padSeed: number,
  coinSeed: number,
): FeatureChoice {
  const features = named.slice(0, k);
  const fromPolicy = features.length;
  const rest = lib.features.map((f) => f.name).filter((n) => !features.includes(n));
  new Rng(padSeed).shuffle(rest);
  features.push(...rest.slice(0, k - fromPolicy));
  const coin = new Rng(coinSeed).uniform() < concisionProb;
  const concision = concisionFeature(lib);
  const concisionAdded = coin && concision !== undefined && !features.includes(concision);
  if (concisionAdded) features.push(concision);
  return { features, fromPolicy, padded: features.length - fromPolicy - (concisionAdded ? 1 : 0), concisionAdded };
}
