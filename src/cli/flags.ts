// Numeric command-line flags, validated by zod schemas: the sampling ones are the very schemas that validate the
// same fields in JSONL input (src/sample/sampling.ts), the others are defined here once per concept. A bad value is
// one line naming the flag ("--batch must be an integer ≥ 1, got "0""), before any work starts.
import { InvalidArgumentError } from "commander";
import { z } from "zod";

export { MaxNewTokens, Seed, Temperature, TopK, TopP } from "../sample/sampling.js";

/** Anything counted from one: batch sizes, token budgets per batch, iterations, prompts, requests in flight. */
export const Count = z.number().int().positive().describe("an integer ≥ 1");
/** A 0-based position, e.g. the SSO iteration. */
export const Index = z.number().int().min(0).describe("an integer ≥ 0");
/** A TCP port; 0 asks the system for any free one. */
export const Port = z.number().int().min(0).max(65535).describe("an integer in 0..65535 (0 = any free port)");
/** A duration in seconds that must leave some time (request timeouts). */
export const Seconds = z.number().positive().describe("a number of seconds > 0");
/** A duration in seconds that may be zero (grace periods). */
export const GraceSeconds = z.number().min(0).describe("a number of seconds ≥ 0");
/** A strictly positive real: learning rates, IPO/DPO β (as the train config requires). */
export const Positive = z.number().positive().describe("a number > 0");

/** A real that may be zero: coefficients of optional terms. */
export const NonNegative = z.number().min(0).describe("a number ≥ 0");

/** Any finite real: thresholds that may be negative. */
export const Finite = z.number().finite().describe("a finite number");

/** A share or probability in [0, 1]. */
export const Probability = z.number().min(0).max(1).describe("a number in [0, 1]");

/** Parses a flag's text as a number and checks it with schema; the error names the flag and the rule. */
export function parseFlag(name: string, schema: z.ZodType<number>, v: string): number {
  const n = v.trim() === "" ? NaN : Number(v);
  const r = schema.safeParse(n);
  if (!r.success) throw new InvalidArgumentError(`${name} must be ${schema.description ?? "valid"}, got "${v}"`);
  return r.data;
}

/** A commander argument parser for a numeric flag. */
export const flag =
  (name: string, schema: z.ZodType<number>) =>
  (v: string): number =>
    parseFlag(name, schema, v);

/** A commander parser for a comma-separated list of numbers, each checked with schema. */
export const flagList =
  (name: string, schema: z.ZodType<number>) =>
  (v: string): number[] =>
    v.split(",").map((x) => {
      const r = schema.safeParse(x.trim() === "" ? NaN : Number(x));
      if (!r.success)
        throw new InvalidArgumentError(
          `${name} must be comma-separated integers, each ${schema.description ?? "valid"}, got "${v}"`,
        );
      return r.data;
    });
