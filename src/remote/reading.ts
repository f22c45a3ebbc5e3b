// How the remote engines read a server's answers, the same rule for every server: a finish reason (vLLM's
// finish_reason + stop_reason, SGLang's matched_stop or meta_info.finish_reason) becomes ours or an error for that
// item, a log-prob of null or at most −9999 (vLLM clamps −∞ to −9999.0; a JSON null is how −∞ serialises) is −∞,
// and a result's tokens lose the end-of-sequence id that ended them. Not here: requests (openai.ts, sglang.ts).
import type { FinishReason, GenerationResult } from "../sample/generate.js";

/** vLLM's stand-in for −∞ (serving_completion.py clamps log-probs with max(logprob, -9999.0)). */
const NEG_INF_STAND_IN = -9999;

/** A log-prob as a number: null or ≤ −9999 is −∞; anything else that is not a finite number is an error. */
export function logprobOf(v: unknown, where: string): number {
  if (v === null) return -Infinity;
  if (typeof v !== "number" || Number.isNaN(v)) throw new Error(`${where}: a log-prob that is not a number: ${v}`);
  return v <= NEG_INF_STAND_IN ? -Infinity : v;
}

/**
 * Our finish reason from the server's: "length" is length; "stop" with a string stop (stop_reason / matched_stop)
 * is a stop string, with a token id or none an end-of-sequence. Anything else ("abort", "error", null …) means the
 * item did not finish: an error naming it, never a silent "eos".
 */
export function finishOf(reason: unknown, matched: unknown, where: string): FinishReason {
  if (reason === "length") return "length";
  if (reason === "stop") return typeof matched === "string" ? "stop" : "eos";
  throw new Error(`${where}: the server ended a completion with finish_reason ${JSON.stringify(reason)}`);
}

/** A generation result; an end-of-sequence id that ended it is dropped from the tokens, as the local engine does. */
export function resultOf(
  text: string,
  finishReason: FinishReason,
  tokenIds: number[] | null | undefined,
  completionTokens: number | undefined,
  eosIds: readonly number[],
): GenerationResult {
  if (!Array.isArray(tokenIds)) {
    // The server does not return ids: only the count is known (what synthesis uses of them).
    const n = (completionTokens ?? 0) - (finishReason === "eos" ? 1 : 0);
    return { tokens: new Array<number>(Math.max(0, n)).fill(-1), text, finishReason };
  }
  const last = tokenIds[tokenIds.length - 1];
  const tokens =
    finishReason === "eos" && tokenIds.length > 0 && eosIds.includes(last) ? tokenIds.slice(0, -1) : tokenIds;
  return { tokens, text, finishReason };
}
