// POST /v1/chat/completions: messages through the tokenizer's chat template, one generation (max_tokens defaults
// to the rest of the context), answered whole or streamed as chat.completion.chunk events, with OpenAI's chat
// logprobs and vLLM's return_token_ids (prompt_token_ids at the top level, token_ids per choice). Deliberately
// not here: tools, n > 1 (rejected by protocol.ts), HTTP plumbing (http.ts), the SSE mechanics (sse.ts).
import type { ServerResponse } from "node:http";
import { checkLength, checkModel, checkStopIds, newId, now, type ServeContext } from "./context.js";
import { finishOf, generation } from "./generation.js";
import { bad, sendJson } from "./http.js";
import { type ChatRequest, chatLogprobs, samplingOf, seedOf } from "./protocol.js";
import { stream } from "./sse.js";

export async function chat(ctx: ServeContext, r: ChatRequest, res: ServerResponse, signal: AbortSignal): Promise<void> {
  checkModel(ctx, r.model);
  const { tok } = ctx.opts,
    maxPositions = ctx.scheduler.maxPositions;
  const messages = r.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content:
      m.content === null ? "" : typeof m.content === "string" ? m.content : m.content.map((c) => c.text).join(""),
  }));
  let promptIds: number[];
  try {
    promptIds = tok.encodePrompt(messages);
  } catch (e) {
    throw bad(`messages: the chat template failed: ${(e as Error).message}`);
  }
  const maxTokens = r.max_completion_tokens ?? r.max_tokens ?? maxPositions - promptIds.length;
  if (maxTokens < 1)
    throw bad(
      promptIds.length >= maxPositions
        ? `the prompt (${promptIds.length} tokens) fills the model's context of ${maxPositions}`
        : "max_tokens must be at least 1",
    );
  checkLength(ctx, promptIds.length, maxTokens);
  checkStopIds(ctx, r.stop_token_ids);
  const top = r.logprobs ? (r.top_logprobs ?? 0) : null;
  const params = samplingOf(r, maxTokens),
    id = newId("chatcmpl"),
    created = now();
  const head = { id, object: "chat.completion", created, model: ctx.opts.modelName };
  if (r.stream) {
    let first = true;
    return stream(
      ctx,
      res,
      { promptIds, seed: seedOf(r.seed), params, logprobs: top, includeUsage: !!r.stream_options?.include_usage },
      signal,
      (delta, lp, finish) => {
        const d = first ? { role: "assistant", content: delta } : finish && delta === "" ? {} : { content: delta };
        first = false;
        return {
          ...head,
          object: "chat.completion.chunk",
          choices: [
            {
              index: 0,
              delta: d,
              logprobs: lp ? { content: chatLogprobs([lp], ctx.piece) } : null,
              finish_reason: finish?.finish_reason ?? null,
            },
          ],
        };
      },
    );
  }
  const gen = generation(ctx, promptIds, seedOf(r.seed), params, top);
  const out = await ctx.scheduler.submit({ generate: [gen.job] }, signal).generated[0];
  const completion_tokens = gen.ids.length;
  sendJson(res, 200, {
    ...head,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: out.result.text },
        logprobs: out.logprobs ? { content: chatLogprobs(out.logprobs, ctx.piece) } : null,
        ...finishOf(out.result, params.stop, ctx.decode),
        ...(r.return_token_ids ? { token_ids: gen.ids } : {}),
      },
    ],
    // vLLM's ChatCompletionResponse has the prompt's ids at the top level, the completion's per choice.
    ...(r.return_token_ids ? { prompt_token_ids: promptIds } : {}),
    usage: { prompt_tokens: promptIds.length, completion_tokens, total_tokens: promptIds.length + completion_tokens },
  });
}
