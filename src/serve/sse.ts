// Streaming one generation as server-sent events: a chunk per new piece of text (the endpoint shapes each chunk),
// a last chunk with the finish reason, optional usage, then [DONE]. Text deltas hold back what may be the start
// of a stop string or an incomplete UTF-8 character. Deliberately not here: the chunk JSON of either endpoint,
// more than one prompt per stream, and error events (http.ts's sendError writes those mid-stream).
import type { ServerResponse } from "node:http";
import type { SamplingParams } from "../sample/sampling.js";
import type { ServeContext } from "./context.js";
import { type Finish, finishOf, generation } from "./generation.js";
import type { TokenLogprob } from "./scheduler.js";

/** Text deltas for streaming: holds back a possible partial stop string and an incomplete UTF-8 character. */
class DeltaText {
  private sent = 0;
  private readonly hold: number;
  constructor(
    stops: readonly string[],
    private readonly decode: (ids: number[]) => string,
  ) {
    this.hold = Math.max(0, ...stops.map((s) => s.length - 1));
  }
  next(tokens: number[]): string {
    let text = this.decode(tokens);
    while (text.endsWith("\uFFFD")) text = text.slice(0, -1);
    const upTo = Math.max(this.sent, text.length - this.hold);
    const delta = text.slice(this.sent, upTo);
    this.sent = upTo;
    return delta;
  }
  rest(final: string): string {
    const delta = final.slice(this.sent);
    this.sent = final.length;
    return delta;
  }
}

export interface StreamRequest {
  promptIds: number[];
  seed: number;
  params: SamplingParams;
  /** Top alternatives per token; null = no log-probs. */
  logprobs: number | null;
  includeUsage: boolean;
  /** Text sent as a first chunk once the stream starts (completions' echo). */
  prefix?: string;
}

/**
 * Submits the generation (a full queue still answers 429 as JSON: headers are written on the first token) and
 * streams it; `chunk` builds each event's JSON from a text delta, a token's log-prob and, last, the finish.
 */
export async function stream(
  ctx: ServeContext,
  res: ServerResponse,
  r: StreamRequest,
  signal: AbortSignal,
  chunk: (delta: string, lp: TokenLogprob | null, finish?: Finish) => unknown,
): Promise<void> {
  const send = (obj: unknown) => res.writableEnded || res.write(`data: ${JSON.stringify(obj)}\n\n`);
  const delta = new DeltaText(r.params.stop, ctx.decode);
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    if (r.prefix) send(chunk(r.prefix, null));
  };
  const gen = generation(ctx, r.promptIds, r.seed, r.params, r.logprobs, (ids, lp) => {
    start();
    const d = delta.next(ids);
    if (d !== "" || lp) send(chunk(d, lp));
  });
  const out = await ctx.scheduler.submit({ generate: [gen.job] }, signal).generated[0];
  start();
  send(chunk(delta.rest(out.result.text), null, finishOf(out.result, r.params.stop, ctx.decode)));
  if (r.includeUsage) {
    send({
      id: "usage",
      object: "usage",
      choices: [],
      usage: {
        prompt_tokens: r.promptIds.length,
        completion_tokens: gen.ids.length,
        total_tokens: r.promptIds.length + gen.ids.length,
      },
    });
  }
  res.end("data: [DONE]\n\n");
}
