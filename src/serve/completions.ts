// POST /v1/completions: text or token-id prompts (one or many), echo, OpenAI's logprobs, vLLM's prompt_logprobs
// and return_token_ids, streaming for a single prompt. A request's jobs (a generation per prompt, plus a prompt
// scoring per prompt when prompt log-probs are asked for) are submitted to the scheduler in one go: admitted
// whole or refused whole — 400 when they are more than the queue can ever hold, 429 when they do not fit now.
// Deliberately not here: HTTP plumbing (http.ts), the SSE mechanics (sse.ts), suffix/n/penalties (protocol.ts
// rejects them).
import type { ServerResponse } from "node:http";
import {
  checkLength,
  checkModel,
  checkStopIds,
  idPrompt,
  newId,
  now,
  type Prompt,
  type ServeContext,
  textPrompt,
} from "./context.js";
import { finishOf, generation } from "./generation.js";
import { bad, sendJson } from "./http.js";
import { type CompletionRequest, completionLogprobs, samplingOf, seedOf, vllmPromptLogprobs } from "./protocol.js";
import type { ScoreJob, TokenLogprob } from "./scheduler.js";
import { stream } from "./sse.js";

export async function completions(
  ctx: ServeContext,
  r: CompletionRequest,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  checkModel(ctx, r.model);
  const prompts: Prompt[] =
    typeof r.prompt === "string"
      ? [textPrompt(ctx, r.prompt)]
      : typeof r.prompt[0] === "number"
        ? [idPrompt(ctx, r.prompt as number[])]
        : (r.prompt as (string | number[])[]).map((p) =>
            typeof p === "string" ? textPrompt(ctx, p) : idPrompt(ctx, p),
          );
  const maxTokens = r.max_tokens ?? 16;
  const logprobs = r.logprobs ?? null,
    promptLogprobs = r.prompt_logprobs ?? null;
  // As vLLM: max_tokens 0 only with echo (the prompt's log-probs without a completion); no prompt_logprobs streamed.
  if (maxTokens === 0 && !r.echo) throw bad("max_tokens is 0: only allowed with echo");
  if (r.stream && promptLogprobs !== null) throw bad("`prompt_logprobs` are not available when `stream=True`.");
  checkStopIds(ctx, r.stop_token_ids);
  prompts.forEach((p) => checkLength(ctx, p.ids.length, maxTokens));
  if (r.stream && prompts.length > 1) throw bad("stream is supported for one prompt at a time");
  const params = samplingOf(r, maxTokens),
    id = newId("cmpl"),
    created = now();
  const head = { id, object: "text_completion", created, model: ctx.opts.modelName };
  if (r.stream)
    return stream(
      ctx,
      res,
      {
        promptIds: prompts[0].ids,
        seed: seedOf(r.seed),
        params,
        logprobs,
        includeUsage: !!r.stream_options?.include_usage,
        prefix: r.echo ? prompts[0].text : "",
      },
      signal,
      (delta, lp, finish) => ({
        ...head,
        choices: [
          {
            index: 0,
            text: delta,
            logprobs: lp ? completionLogprobs([lp], [lp.token], ctx.piece, 0) : null,
            finish_reason: finish?.finish_reason ?? null,
            stop_reason: finish?.stop_reason ?? null,
          },
        ],
      }),
    );

  // The request's jobs: a generation per prompt (unless max_tokens is 0), a scoring per prompt of 2+ tokens when
  // prompt log-probs are wanted (a 1-token prompt has none to score).
  const wantPromptLps = promptLogprobs !== null || (!!r.echo && logprobs !== null);
  const gens = maxTokens > 0 ? prompts.map((p) => generation(ctx, p.ids, seedOf(r.seed), params, logprobs)) : null;
  const scoreTop = Math.max(promptLogprobs ?? 0, logprobs ?? 0);
  const scores: ScoreJob[] = [],
    scoreOf: number[] = [];
  if (wantPromptLps)
    prompts.forEach((p, i) => p.ids.length >= 2 && (scoreOf[i] = scores.push({ ids: p.ids, top: scoreTop }) - 1));
  checkFits(ctx, prompts.length, (gens?.length ?? 0) + scores.length, (gens ? 1 : 0) + (wantPromptLps ? 1 : 0));
  const { generated, scored } = ctx.scheduler.submit({ generate: gens?.map((g) => g.job), score: scores }, signal);

  const choices = await Promise.all(
    prompts.map(async (p, index) => {
      const noScore: Promise<TokenLogprob[]> = Promise.resolve([]);
      const [out, promptLps] = await Promise.all([
        gens ? generated[index] : null,
        wantPromptLps ? (scoreOf[index] !== undefined ? scored[scoreOf[index]] : noScore) : null,
      ]);
      const genIds = gens?.[index].ids ?? [];
      const result = out?.result ?? { tokens: [], text: "", finishReason: "length" as const };
      let lps = null;
      if (logprobs !== null) {
        const entries = r.echo
          ? [null, ...promptLps!.map((lp) => ({ ...lp, top: lp.top.slice(0, logprobs) })), ...(out?.logprobs ?? [])]
          : (out?.logprobs ?? []);
        const ids = r.echo ? [...p.ids, ...genIds] : genIds;
        lps = completionLogprobs(entries, ids, ctx.piece, 0);
      }
      return {
        index,
        text: (r.echo ? p.text : "") + result.text,
        logprobs: lps,
        ...finishOf(result, params.stop, ctx.decode),
        ...(promptLogprobs !== null
          ? {
              prompt_logprobs: vllmPromptLogprobs(
                promptLps!.map((lp) => ({ ...lp, top: lp.top.slice(0, promptLogprobs) })),
                ctx.piece,
              ),
            }
          : {}),
        ...(r.return_token_ids ? { prompt_token_ids: p.ids, token_ids: genIds } : {}),
        completion_tokens: genIds.length,
      };
    }),
  );
  const prompt_tokens = prompts.reduce((n, p) => n + p.ids.length, 0),
    completion_tokens = choices.reduce((n, c) => n + c.completion_tokens, 0);
  sendJson(res, 200, {
    ...head,
    choices: choices.map(({ completion_tokens: _, ...c }) => c),
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  });
}

/** 400 when the request's jobs are more than the queue can ever hold: it could never be admitted, so retrying is useless. */
function checkFits(ctx: ServeContext, nPrompts: number, jobs: number, perPrompt: number): void {
  const cap = ctx.scheduler.capacity;
  if (jobs <= cap) return;
  const each = perPrompt === 2 ? " (a prompt takes two places when prompt log-probs are asked for)" : "";
  throw bad(
    `${nPrompts} prompts need ${jobs} places in the request queue, which holds at most ${cap} (--max-queue)${each}: send at most ${Math.floor(cap / perPrompt)} prompts per request`,
  );
}
