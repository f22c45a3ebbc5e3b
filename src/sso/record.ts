// The SSO data record (SSO-SPEC §5): one JSON line per prompt and iteration. prompt/chosen/rejected are TRL's
// conversational preference columns, so TRL (and `datasets`) load a record set as a preference dataset as is; the
// SSO columns add y°, the contrastive system messages, provenance, and the reference log-probs of every
// (prompt variant, response) pair the losses and the ordering filter need. The schema is strict so the trainer can
// validate its input. Also the policy hash written into each record. No synthesis logic here.
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
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

const MIB = 1 << 20;

/** The first and last MiB of a file (all of it when smaller than 2 MiB). */
function ends(path: string): Buffer {
  const size = statSync(path).size;
  if (size <= 2 * MIB) return readFileSync(path);
  const buf = Buffer.alloc(2 * MIB),
    fd = openSync(path, "r");
  try {
    readSync(fd, buf, 0, MIB, 0);
    readSync(fd, buf, MIB, MIB, size - MIB);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/**
 * The policy's identity for provenance and resume checks: sha256 over config.json and, for every *.safetensors
 * file in name order, its name, size, first MiB (header and first tensors) and last MiB. Cheap on large models,
 * and any training step changes it in practice; it is a fingerprint, not a proof of identical weights.
 */
export function policyHash(dir: string): string {
  const h = createHash("sha256");
  h.update("config.json\0").update(readFileSync(join(dir, "config.json")));
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith(".safetensors"))
    .sort()) {
    h.update(`\0${name}\0${statSync(join(dir, name)).size}\0`).update(ends(join(dir, name)));
  }
  return h.digest("hex");
}
