// The schema of `iterate.eval` in the sso config: which evaluation `sso iterate` runs after each iteration
// (iteration.ts runs it). Kept apart so that reading a config loads no model code.
import { z } from "zod";
import { ANSWER_FORMATS } from "./math.js";

export const IterationEvalConfig = z.strictObject({
  world: z
    .strictObject({
      /** Prompts evaluated. */
      n: z.number().int().positive().default(200),
      split: z.enum(["heldout", "train"]).default("heldout"),
      /** Prompt sampling and bootstrap seed. */
      seed: z.number().int().min(0).default(0),
      maxNewTokens: z.number().int().positive().default(64),
    })
    .optional(),
  math: z
    .strictObject({
      /** JSONL problems (relative paths are relative to the config file). */
      data: z.string().min(1),
      format: z.enum(ANSWER_FORMATS),
      maxNewTokens: z.number().int().positive().default(256),
      seed: z.number().int().min(0).default(0),
    })
    .optional(),
});
export type IterationEvalConfig = z.infer<typeof IterationEvalConfig>;
