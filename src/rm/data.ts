// Preference pairs for reward models, from the formats people have: SSO records (x, y+ ≻ y-; optionally also
// (x+, y+ ≻ y-) with the positive system message), TRL preference JSONL (prompt/chosen/rejected as plain strings or
// conversational message lists, the prompt explicit or implicit in chosen/rejected), and RewardBench rows (prompt,
// chosen, rejected, subset). Optional columns: margin (TRL's), subset. Several files mix with weights
// (FILE:WEIGHT: a weight of 2 takes every pair twice, 0.5 a seeded half). Pairs that cannot teach anything
// (identical chosen and rejected, an empty response, too long for the model) are skipped and counted.
// Not here: the model, the loss.
import { z } from "zod";
import { SsoRecord } from "../sso/record.js";
import { mixSeed, Rng } from "../tensor/rng.js";
import { ChatMessageSchema } from "../tokenizer/chat-line.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import { readJsonl } from "../util/jsonl.js";
import { type RewardPosition, rewardIds } from "./model.js";

export interface PrefPair {
  /** FILE:LINE of the input line. */
  source: string;
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
  margin: number;
  subset?: string;
}

export interface DataSpec {
  path: string;
  weight: number;
}

export interface SkipCounts {
  identical: number;
  empty: number;
  tooLong: number;
}

const Side = z.union([z.string(), z.array(ChatMessageSchema).min(1)]);
const PrefLine = z.object({
  prompt: z.union([z.string(), z.array(ChatMessageSchema).min(1)]).optional(),
  chosen: Side,
  rejected: Side,
  margin: z.number().finite().optional(),
  subset: z.string().optional(),
});
// An SSO record is recognised by its own columns and then validated strictly; anything else is a preference line.
const Line = z.unknown().transform((v, ctx): { sso: SsoRecord } | { pref: z.infer<typeof PrefLine> } => {
  const isSso = typeof v === "object" && v !== null && "system_pos" in v;
  const r = (isSso ? SsoRecord : PrefLine).safeParse(v);
  if (r.success) return isSso ? { sso: r.data as SsoRecord } : { pref: r.data as z.infer<typeof PrefLine> };
  for (const issue of r.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  return z.NEVER;
});

/** `FILE` or `FILE:WEIGHT` (a number ≥ 0) from --data. */
export function parseDataSpec(text: string): DataSpec {
  const m = /^(.*):([0-9.eE+-]+)$/.exec(text);
  if (!m) return { path: text, weight: 1 };
  const weight = Number(m[2]);
  if (!Number.isFinite(weight) || weight < 0)
    throw new Error(`--data ${text}: the weight after ':' must be a number ≥ 0`);
  return { path: m[1], weight };
}

/** One side's conversation before the response, and the response. */
function split(side: z.infer<typeof Side>, prompt: ChatMessage[] | undefined, key: string): [ChatMessage[], string] {
  if (typeof side === "string") {
    if (!prompt) throw new Error(`${key}: a plain-text answer needs a "prompt"`);
    return [prompt, side];
  }
  const last = side[side.length - 1];
  if (last.role !== "assistant") throw new Error(`${key}: the last message must be the assistant's answer`);
  return [[...(prompt ?? []), ...side.slice(0, -1)], last.content];
}

/** The pairs of one line. */
function linePairs(v: z.infer<typeof Line>, source: string, contrastive: boolean): PrefPair[] {
  if ("sso" in v) {
    const r = v.sso,
      base = { source, chosen: r.chosen[0].content, rejected: r.rejected[0].content, margin: 0 };
    const plain: PrefPair = { ...base, prompt: r.prompt };
    return contrastive
      ? [plain, { ...base, prompt: [{ role: "system", content: r.system_pos }, ...r.prompt] }]
      : [plain];
  }
  const p = v.pref;
  const prompt = typeof p.prompt === "string" ? [{ role: "user", content: p.prompt }] : p.prompt;
  const [pc, chosen] = split(p.chosen, prompt, "chosen"),
    [pr, rejected] = split(p.rejected, prompt, "rejected");
  if (JSON.stringify(pc) !== JSON.stringify(pr))
    throw new Error("chosen and rejected must answer the same conversation (they differ before the last turn)");
  if (pc.length === 0) throw new Error('no conversation before the answer (give "prompt")');
  return [
    {
      source,
      prompt: pc,
      chosen,
      rejected,
      margin: p.margin ?? 0,
      ...(p.subset !== undefined && { subset: p.subset }),
    },
  ];
}

/** Every pair of a file, validated line by line (errors name FILE:LINE), with the skipped ones counted. */
export function readPairs(
  path: string,
  opts: { contrastive?: boolean } = {},
): { pairs: PrefPair[]; skipped: SkipCounts } {
  const skipped: SkipCounts = { identical: 0, empty: 0, tooLong: 0 };
  const pairs: PrefPair[] = [];
  for (const { line, value } of readJsonl(path, Line)) {
    let got: PrefPair[];
    try {
      got = linePairs(value, `${path}:${line}`, !!opts.contrastive);
    } catch (e) {
      throw new Error(`${path}:${line}: ${(e as Error).message}`);
    }
    for (const p of got) {
      if (p.chosen.trim() === "" || p.rejected.trim() === "") skipped.empty++;
      else if (p.chosen === p.rejected) skipped.identical++;
      else pairs.push(p);
    }
  }
  return { pairs, skipped };
}

/** Several files' pairs mixed by weight: ⌊w⌋ copies of every pair plus a seeded (w − ⌊w⌋) share of them. */
export function mixPairs(
  specs: readonly DataSpec[],
  seed: number,
  opts: { contrastive?: boolean } = {},
): { pairs: PrefPair[]; skipped: SkipCounts; perFile: { path: string; pairs: number; used: number }[] } {
  const skipped: SkipCounts = { identical: 0, empty: 0, tooLong: 0 };
  const pairs: PrefPair[] = [],
    perFile: { path: string; pairs: number; used: number }[] = [];
  specs.forEach((spec, f) => {
    const got = readPairs(spec.path, opts);
    skipped.identical += got.skipped.identical;
    skipped.empty += got.skipped.empty;
    const whole = Math.floor(spec.weight),
      extra = Math.round((spec.weight - whole) * got.pairs.length);
    const used: PrefPair[] = [];
    for (let k = 0; k < whole; k++) used.push(...got.pairs);
    const order = new Rng(mixSeed(seed, f)).shuffle(got.pairs.map((_, i) => i));
    used.push(
      ...order
        .slice(0, extra)
        .sort((a, b) => a - b)
        .map((i) => got.pairs[i]),
    );
    pairs.push(...used);
    perFile.push({ path: spec.path, pairs: got.pairs.length, used: used.length });
  });
  return { pairs, skipped, perFile };
}

export interface TokenPair {
  pair: PrefPair;
  /** The conversation with the answer, as rewardIds renders it for the reward model's position (model.ts). */
  chosen: number[];
  rejected: number[];
}

/** The pairs as token sequences; pairs longer than maxTokens on either side are skipped (counted in skipped). */
export function tokenizePairs(
  tok: Tokenizer,
  pairs: readonly PrefPair[],
  maxTokens: number,
  skipped: SkipCounts,
  position: RewardPosition,
): TokenPair[] {
  const out: TokenPair[] = [];
  for (const pair of pairs) {
    let ids: number[][];
    try {
      ids = [pair.chosen, pair.rejected].map((r) => rewardIds(tok, pair.prompt, r, position));
    } catch (e) {
      throw new Error(`${pair.source}: ${(e as Error).message}`);
    }
    if (ids[0].length > maxTokens || ids[1].length > maxTokens) skipped.tooLong++;
    else out.push({ pair, chosen: ids[0], rejected: ids[1] });
  }
  return out;
}

export const skippedText = (s: SkipCounts): string =>
  `skipped ${s.identical} identical, ${s.empty} with an empty response, ${s.tooLong} too long`;
