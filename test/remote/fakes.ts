// Fake vLLM and SGLang servers for the remote engines' contract tests. Each one checks requests the way its project
// does and answers in its project's exact response shapes, while the numbers come from an in-process `sso serve`
// (src/serve/) behind it, so that log-probs and samples are our own model's and comparable with local runs.
// Shapes and checks read from (current sources):
// - vLLM: vllm/entrypoints/openai/completion/protocol.py (CompletionRequest fields, check_logprobs: prompt_logprobs
//   with stream → 400; echo with max_tokens 0 generates nothing; CompletionResponseChoice with finish_reason,
//   stop_reason int|str|None, token_ids, prompt_logprobs, prompt_token_ids), vllm/entrypoints/openai/
//   serving_completion.py (log-probs clamped with max(logprob, -9999.0)), serving_engine's length check ("This
//   model's maximum context length is N tokens. However, you requested M tokens …" when prompt + max_tokens > N),
//   serving_models' 404 "The model `x` does not exist.", and the ModelCard of GET /v1/models (owned_by "vllm",
//   max_model_len).
// - SGLang: python/sglang/srt/entrypoints/openai/protocol.py (ModelCard owned_by "sglang", max_model_len;
//   CompletionRequest has no prompt_logprobs, matched_stop per choice), python/sglang/srt/managers/io_struct.py
//   (GenerateReqInput: input_ids as one list or a batch, sampling_params, return_logprob, logprob_start_len),
//   python/sglang/srt/sampling/sampling_params.py (max_new_tokens may be 0, sampling_seed, stop_token_ids),
//   python/sglang/srt/managers/scheduler_output_processor_mixin.py (input_token_logprobs aligned with
//   ids[logprob_start_len:], the first entry always None) and the tokenizer manager's meta_info
//   (finish_reason {type: "stop", matched} | {type: "length", length}, input_token_logprobs as
//   [logprob, token id, text]); its context check refuses an input of context_len tokens or more.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

type Json = Record<string, unknown>;

export interface Fake {
  url: string;
  server: Server;
  /** Every request: method, path and body. */
  log: { path: string; body: Json }[];
  /** Answers with a status of 400 or more that it sent. */
  refused: { status: number; message: string }[];
  close(): Promise<void>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function listen(
  handle: (method: string, path: string, body: Json) => Promise<unknown>,
  error: (status: number, message: string) => unknown,
): Promise<Fake> {
  const log: Fake["log"] = [],
    refused: Fake["refused"] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      const path = (req.url ?? "/").split("?")[0];
      const body = (raw ? JSON.parse(raw) : {}) as Json;
      log.push({ path, body });
      try {
        const out = await handle(req.method ?? "GET", path, body);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
      } catch (e) {
        const status = e instanceof Refusal ? e.status : 500;
        refused.push({ status, message: (e as Error).message });
        res
          .writeHead(status, { "content-type": "application/json" })
          .end(JSON.stringify(error(status, (e as Error).message)));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, log, refused, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** POSTs to the sso serve behind a fake; its errors become the fake's refusals. */
async function inner(base: string, path: string, body: unknown): Promise<Json> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  const j = (await res.json()) as Json & { error?: { message: string } };
  if (!res.ok) throw new Refusal(res.status, j.error?.message ?? "inner error");
  return j;
}

const created = () => Math.floor(Date.now() / 1000);

/** A fake vLLM (OpenAI server) serving `name` with context `maxModelLen`, computing with the sso serve at `base`. */
export function fakeVllm(base: string, name: string, maxModelLen: number): Promise<Fake> {
  return listen(
    async (method, path, b) => {
      if (method === "GET" && path === "/v1/models")
        return {
          object: "list",
          data: [
            {
              id: name,
              object: "model",
              created: created(),
              owned_by: "vllm",
              root: name,
              parent: null,
              max_model_len: maxModelLen,
              permission: [],
            },
          ],
        };
      if (method !== "POST" || path !== "/v1/completions") throw new Refusal(404, "Not Found");
      if (b.model !== name) throw new Refusal(404, `The model \`${b.model}\` does not exist.`);
      if (b.stream && typeof b.prompt_logprobs === "number" && b.prompt_logprobs > 0)
        throw new Refusal(400, "`prompt_logprobs` are not available when `stream=True`.");
      const maxTokens = (b.max_tokens as number | undefined) ?? 16;
      const echo0 = b.echo === true && maxTokens === 0;
      if (maxTokens < 1 && !echo0) throw new Refusal(400, `max_tokens must be at least 1, got ${maxTokens}.`);
      const prompts = (Array.isArray(b.prompt) && Array.isArray(b.prompt[0]) ? b.prompt : [b.prompt]) as number[][];
      for (const p of prompts)
        if (p.length + maxTokens > maxModelLen)
          throw new Refusal(
            400,
            `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${p.length + maxTokens} tokens (${p.length} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
          );
      // A V1 snapshot that reads prompt_logprobs 0 as off: the client must ask for at least 1.
      const promptLps = typeof b.prompt_logprobs === "number" && b.prompt_logprobs > 0 ? b.prompt_logprobs : null;
      const { stop_token_ids: _, min_p: __, repetition_penalty: ___, ...rest } = b;
      const out = (await inner(base, "/v1/completions", {
        ...rest,
        model: "inner",
        prompt: prompts,
        ...(echo0 ? { echo: true, max_tokens: 0 } : {}),
        prompt_logprobs: promptLps,
        return_token_ids: true,
      })) as { choices: Json[]; usage: Json };
      return {
        id: "cmpl-fake",
        object: "text_completion",
        created: created(),
        model: name,
        choices: out.choices.map((c, index) => {
          const ids = c.token_ids as number[];
          const byStopId = c.finish_reason === "stop" && c.stop_reason === null && ids.length > 0;
          return {
            index,
            text: echo0 ? "" : c.text,
            logprobs: null,
            finish_reason: echo0 ? "length" : c.finish_reason,
            // vLLM reports the stop token id that ended a completion (stop_token_ids); null after the model's EOS.
            stop_reason: byStopId ? ids[ids.length - 1] : c.stop_reason,
            token_ids: b.return_token_ids ? ids : null,
            prompt_logprobs: promptLps === null ? null : c.prompt_logprobs,
            prompt_token_ids: b.return_token_ids ? prompts[index] : null,
          };
        }),
        service_tier: null,
        system_fingerprint: null,
        usage: out.usage,
        kv_transfer_params: null,
      };
    },
    (status, message) => ({
      error: { message, type: status === 404 ? "NotFoundError" : "BadRequestError", param: null, code: status },
    }),
  );
}

type Sp = Json & { max_new_tokens?: number };

/** A fake SGLang server (native /generate and the model list) serving `name` with context `contextLen`. */
export function fakeSglang(base: string, name: string, contextLen: number): Promise<Fake> {
  const one = async (ids: number[], sp: Sp, wantLogprob: boolean, start: number): Promise<Json> => {
    if (ids.length >= contextLen)
      throw new Refusal(
        400,
        `The input (${ids.length} tokens) is longer than the model's context length (${contextLen} tokens).`,
      );
    const maxNew = sp.max_new_tokens ?? 128;
    if (maxNew + ids.length >= contextLen)
      throw new Refusal(
        400,
        `Requested token count exceeds the model's maximum context length of ${contextLen} tokens.`,
      );
    if (maxNew === 0) {
      const out = (await inner(base, "/v1/completions", {
        model: "inner",
        prompt: ids,
        echo: true,
        max_tokens: 0,
        prompt_logprobs: 1,
      })) as {
        choices: { prompt_logprobs: (Record<string, { logprob: number }> | null)[] }[];
      };
      const lps = out.choices[0].prompt_logprobs;
      const input_token_logprobs = wantLogprob
        ? ids.slice(start).map((id, k) => [k === 0 ? null : lps[start + k]![String(id)].logprob, id, null])
        : undefined;
      return {
        text: "",
        output_ids: [],
        meta_info: {
          id: "fake",
          finish_reason: { type: "length", length: 0 },
          prompt_tokens: ids.length,
          completion_tokens: 0,
          cached_tokens: 0,
          ...(wantLogprob ? { input_token_logprobs, output_token_logprobs: [] } : {}),
        },
      };
    }
    const out = (await inner(base, "/v1/completions", {
      model: "inner",
      prompt: ids,
      max_tokens: maxNew,
      temperature: sp.temperature,
      top_p: sp.top_p,
      top_k: sp.top_k,
      seed: sp.sampling_seed,
      stop: sp.stop,
      return_token_ids: true,
    })) as { choices: { text: string; finish_reason: string; stop_reason: string | null; token_ids: number[] }[] };
    const c = out.choices[0];
    const last = c.token_ids[c.token_ids.length - 1];
    return {
      text: c.text,
      output_ids: c.token_ids,
      meta_info: {
        id: "fake",
        finish_reason:
          c.finish_reason === "length"
            ? { type: "length", length: c.token_ids.length }
            : { type: "stop", matched: c.stop_reason ?? last },
        prompt_tokens: ids.length,
        completion_tokens: c.token_ids.length,
        cached_tokens: 0,
      },
    };
  };
  return listen(
    async (method, path, b) => {
      if (method === "GET" && path === "/v1/models")
        return {
          object: "list",
          data: [
            {
              id: name,
              object: "model",
              created: created(),
              owned_by: "sglang",
              root: name,
              parent: null,
              max_model_len: contextLen,
            },
          ],
        };
      if (method !== "POST" || path !== "/generate") throw new Refusal(404, "Not Found");
      const batch = Array.isArray(b.input_ids) && Array.isArray(b.input_ids[0]);
      const inputs = (batch ? b.input_ids : [b.input_ids]) as number[][];
      const at = <T>(v: unknown, i: number, dflt: T): T => (Array.isArray(v) ? v[i] : (v ?? dflt)) as T;
      const outs = await Promise.all(
        inputs.map((ids, i) =>
          one(
            ids,
            at<Sp>(b.sampling_params, i, {}),
            at<boolean>(b.return_logprob, i, false),
            at<number>(b.logprob_start_len, i, -1),
          ),
        ),
      );
      return batch ? outs : outs[0];
    },
    (_status, message) => ({ error: { message } }),
  );
}
