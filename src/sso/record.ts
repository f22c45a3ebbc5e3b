// The SSO data record (METHOD.md §5): one JSON line per prompt and iteration. prompt/chosen/rejected are TRL's
// conversational preference columns, so TRL (and `datasets`) load a record set as a preference dataset as is; the
// SSO columns add y°, the contrastive system messages, provenance, and the reference log-probs of every
// (prompt variant, response) pair the losses and the ordering filter need. The schema is strict so the trainer can
// validate its input (the policy hash it carries is src/model/hash.ts). No synthesis logic here.
import { z } from "zod";
import { REF_COLUMNS, type RefColumn } from "./pairs.js";

/** TRL's preference columns (conversational format). */
export const TRL_COLUMNS = ["prompt", "chosen", "rejected"] as const;

export { REF_COLUMNS, type RefColumn } from "./pairs.js";

const turn = z.strictObject({ role: z.enum(["user", "assistant"]), content: z.string() });
const answer = z.tuple([z.strictObject({ role: z.literal("assistant"), content: z.string() })]);
const finish = z.enum(["eos", "stop", "length"]);
const logp = z.number().finite().max(0);
const count = z.number().int().positive();
const seed = z.number().int().min(0).max(0xffffffff);
/** Reference log-probs (pairs.ts), each Σ log π_ref(response | prompt variant) over the response tokens (end-of-turn included). */
const refColumns = Object.fromEntries(REF_COLUMNS.map((c) => [c, logp])) as Record<RefColumn, typeof logp>;

export const SsoRecord = z.strictObject({
  /** The input line's id, or its line number. */
  id: z.string(),
  /** 0-based position in the prompts file; with seed and iteration it determines every random choice. */
  prompt_index: z.number().int().min(0),
  iteration: z.number().int().min(0),
  /** The conversation without a system message, ending in a user turn. */
  prompt: z
    .array(turn)
    .min(1)
    .refine((p) => p[p.length - 1].role === "user", "must end with a user turn"),
  chosen: answer, // y+ ~ π(·|x+)
  rejected: answer, // y- ~ π(·|x-)
  raw: answer, // y° ~ π(·|x)
  features: z.array(z.string()).min(1),
  /** Per feature: whether its principles were written by the policy or taken from the library. */
  principle_sources: z.array(z.enum(["policy", "library"])),
  system_pos: z.string(),
  system_neg: z.string(),
  finish_reasons: z.strictObject({ chosen: finish, rejected: finish, raw: finish }),
  sampling: z.strictObject({
    temperature: z.number(),
    top_p: z.number(),
    top_k: z.number().int(),
    max_new_tokens: count,
    raw_greedy: z.boolean(),
  }),
  seed,
  sample_seeds: z.strictObject({ chosen: seed, rejected: seed, raw: seed }),
  policy_model: z.string(),
  policy_hash: z.string().regex(/^[0-9a-f]{64}$/),
  ...refColumns,
  /** Response token counts as scored (the chat encoding's response ids, end-of-turn included). */
  chosen_n_tokens: count,
  rejected_n_tokens: count,
  raw_n_tokens: count,
});
export type SsoRecord = z.infer<typeof SsoRecord>;
