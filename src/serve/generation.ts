// One generation as the endpoints see it: the scheduler job for a prompt plus the sampled ids it collects (for
// vLLM's token_ids and usage), and the finish_reason / stop_reason of its result. Deliberately not here:
// queueing (the caller submits the job, with the rest of its request, to the scheduler) and response shapes.
import type { GenerationResult } from "../sample/generate.js";
import type { SamplingParams } from "../sample/sampling.js";
import type { ServeContext } from "./context.js";
import type { GenerationJob, TokenLogprob } from "./scheduler.js";

export interface Generation {
  job: GenerationJob;
  /** Every sampled id so far, the end-of-sequence one included (vLLM's token_ids). */
  ids: number[];
}

/** A job for `promptIds`; `onIds` (streaming) sees the text ids so far and the new token's log-prob, after each token. */
export function generation(
  ctx: ServeContext,
  promptIds: number[],
  seed: number,
  params: SamplingParams,
  logprobs: number | null,
  onIds?: (textIds: number[], lp: TokenLogprob | null) => void,
): Generation {
  const ids: number[] = [],
    text: number[] = [];
  const job: GenerationJob = {
    request: { promptIds, params, seed },
    logprobs,
    onToken: (t) => {
      ids.push(t.token);
      if (!ctx.eos.has(t.token)) text.push(t.token);
      onIds?.(text, "logprob" in t ? t : null);
    },
  };
  return { job, ids };
}

export interface Finish {
  finish_reason: "stop" | "length";
  stop_reason: string | null;
}

/** OpenAI's finish_reason and vLLM's stop_reason (the stop string that ended it; null for end-of-sequence). */
export function finishOf(r: GenerationResult, stops: readonly string[], decode: (ids: number[]) => string): Finish {
  if (r.finishReason === "length") return { finish_reason: "length", stop_reason: null };
  if (r.finishReason === "eos") return { finish_reason: "stop", stop_reason: null };
  const text = decode(r.tokens);
  const found = stops.filter((s) => s && text.indexOf(s) === r.text.length);
  return { finish_reason: "stop", stop_reason: found[0] ?? null };
}
