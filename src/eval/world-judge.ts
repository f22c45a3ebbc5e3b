// A deterministic pairwise judge for the principle world: the answer with the higher mean pass rate of the world's
// checkers (src/world/check.ts) wins, equal rates tie. It needs no server and is symmetric in the order of the
// answers, so the pairwise and length-controlled machinery runs offline (the demo, tests). Prompts that are not
// world prompts are an error.
import { checkText, meanPass } from "../world/check.js";
import type { Judgment } from "./judge.js";
import type { PairItem, PairJudge, PairOutcome } from "./pairwise.js";
import { pairOutcome } from "./pairwise.js";
import type { Verdict } from "./prompts.js";

/** The checkers' verdict on answers a and b to a world prompt. */
export function worldJudgment(instruction: string, a: string, b: string): Judgment<Verdict> {
  const sa = meanPass(checkText(instruction, a)) ?? 0,
    sb = meanPass(checkText(instruction, b)) ?? 0;
  const value: Verdict = sa > sb ? "A" : sb > sa ? "B" : "tie";
  return { value, replies: [`world checkers: A ${sa.toFixed(3)}, B ${sb.toFixed(3)}`] };
}

export const worldPairJudge: PairJudge = {
  id: "world",
  compare: async (instruction, a, b) => worldJudgment(instruction, a, b),
};

/** Both orders judged synchronously (what the demo uses; the same outcome judgePairs gives with worldPairJudge). */
export const judgeWorldPairs = (items: readonly PairItem[]): PairOutcome[] =>
  items.map((it) =>
    pairOutcome(
      it,
      worldJudgment(it.instruction, it.output, it.baseline),
      worldJudgment(it.instruction, it.baseline, it.output),
    ),
  );

/** A model's world answers against a baseline's on the same prompts (in the same order), judged in both orders. */
export function worldVersus(
  model: readonly { prompt: string; response: string }[],
  baseline: readonly { prompt: string; response: string }[],
): PairOutcome[] {
  if (model.length !== baseline.length || model.some((r, i) => r.prompt !== baseline[i].prompt))
    throw new Error("world judge: the two answer sets are not answers to the same prompts in the same order");
  return judgeWorldPairs(
    model.map((r, i) => ({ instruction: r.prompt, output: r.response, baseline: baseline[i].response })),
  );
}
