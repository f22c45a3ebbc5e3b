// A synthesis engine on SGLang's native API, `POST /generate`: SGLang's /v1/completions has no prompt_logprobs (an
// unknown field it drops), so scoring asks /generate for the input tokens' log-probs, many id lists per request,
// starting at each prompt's last token so that the prompt itself can come from SGLang's prefix cache. Sampling goes
// through /generate too, with every sampling field pinned, our stop ids and a per-request sampling_seed. Shapes
// follow SGLang's GenerateReqInput (srt/managers/io_struct.py), SamplingParams (srt/sampling/sampling_params.py)
// and the meta_info its tokenizer manager returns. Not here: HTTP (http.ts), reading reasons and numbers
// (reading.ts), the vLLM-style engine whose options this shares (openai.ts).
import type { Engine, EngineRequest, GenerateCallOptions, ScoreCallOptions } from "../engine/engine.js";
import type { ScoreItem, ScoreResult } from "../model/score.js";
import type { GenerationResult } from "../sample/generate.js";
import { pool } from "./http.js";
import { pinnedSampling, type RemoteEngineOptions, scoreInGroups, scoreResult } from "./openai.js";
import { finishOf, logprobOf, resultOf } from "./reading.js";

/** One answer of /generate (a list of them for a batch of input_ids). */
interface GenerateOutput {
  text?: string;
  output_ids?: number[];
  meta_info?: {
    finish_reason?: { type?: string; matched?: number | string | null } | null;
    completion_tokens?: number;
    /** Per input token from logprob_start_len: [logprob (null for the first), token id, text or null]. */
    input_token_logprobs?: [number | null, number, string | null][];
  };
}

export class SglangEngine implements Engine {
  readonly settings: Record<string, unknown>;
  readonly maxPositions: number;
  readonly maxScoreLength: number;

  constructor(private readonly opts: RemoteEngineOptions) {
    // SGLang refuses an input of context_len tokens or more, and input + max_new_tokens reaching context_len.
    this.maxPositions = opts.maxPositions - 1;
    this.maxScoreLength = opts.maxPositions - 1;
    this.settings = opts.settings;
  }

  private get url(): string {
    return `${this.opts.http.shown}/generate`;
  }

  async generate(requests: readonly EngineRequest[], opts: GenerateCallOptions = {}): Promise<GenerationResult[]> {
    return pool(requests, this.opts.concurrency ?? 16, async (r, i) => {
      const out = await this.opts.http.post<GenerateOutput>("/generate", {
        input_ids: r.promptIds,
        ...(this.opts.loraPath && { lora_path: this.opts.loraPath }),
        sampling_params: {
          max_new_tokens: r.params.maxNewTokens,
          ...pinnedSampling(r),
          stop: r.params.stop,
          stop_token_ids: this.opts.stopIds,
          sampling_seed: r.seed,
        },
      });
      const fr = out.meta_info?.finish_reason;
      if (typeof out.text !== "string") throw new Error(`${this.url}: an answer without text (request ${i})`);
      const finish = finishOf(fr?.type ?? fr, fr?.matched, `${this.url} (request ${i})`);
      opts.onResult?.(i);
      return resultOf(out.text, finish, out.output_ids, out.meta_info?.completion_tokens, this.opts.stopIds);
    });
  }

  score(items: readonly ScoreItem[], opts: ScoreCallOptions): Promise<ScoreResult[]> {
    return scoreInGroups(items, opts, this.opts, (group) => this.scoreGroup(group));
  }

  private async scoreGroup(items: readonly ScoreItem[]): Promise<ScoreResult[]> {
    const ids = items.map((it) => [...it.promptIds, ...it.responseIds]);
    // Entry k of input_token_logprobs is ids[start + k], the first one null: start at the prompt's last token.
    const starts = items.map((it) => it.promptIds.length - 1);
    const body = await this.opts.http.post<GenerateOutput[] | GenerateOutput>("/generate", {
      input_ids: ids,
      ...(this.opts.loraPath && { lora_path: ids.map(() => this.opts.loraPath) }),
      sampling_params: { max_new_tokens: 0, temperature: 0 },
      return_logprob: true,
      logprob_start_len: starts,
      top_logprobs_num: 0,
    });
    const outs = Array.isArray(body) ? body : [body];
    return items.map((it, k) => {
      const lps = outs[k]?.meta_info?.input_token_logprobs;
      if (outs.length !== items.length || !Array.isArray(lps) || lps.length !== ids[k].length - starts[k])
        throw new Error(`${this.url} cannot score: it returned no meta_info.input_token_logprobs for each prompt`);
      return scoreResult(
        it.responseIds.map((id, j) => {
          const e = lps[j + 1];
          if (!Array.isArray(e) || e[1] !== id)
            throw new Error(`${this.url} cannot score: input_token_logprobs[${j + 1}] is not the prompt's token ${id}`);
          return logprobOf(e[0], `${this.url}: input_token_logprobs[${j + 1}]`);
        }),
      );
    });
  }
}
