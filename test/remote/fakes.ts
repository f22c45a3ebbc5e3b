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
// Swap routes (managed servers of `sso iterate`, test/remote/fake-server.ts runs these as processes): vLLM's GET
// /health, POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vllm/entrypoints/openai/serving_models.py
// load_lora_adapter / unload_lora_adapter and the api_server routes registered only with
// VLLM_ALLOW_RUNTIME_LORA_UPDATING: 200 with a plain-text "Success: …", 400 "Both 'lora_name' and 'lora_path' must
// be provided." / "The lora adapter 'N' has already been loaded.", 404 "The lora adapter 'N' cannot be found.";
// loaded adapters listed by /v1/models with parent and root); SGLang's GET /health_generate, GET /get_model_info
// ({model_path, …}), POST /update_weights_from_disk ({success, message, num_paused_requests}, python/sglang/srt/
// entrypoints/http_server.py) and POST /load_lora_adapter / /unload_lora_adapter (LoRAUpdateOutput {success,
// error_message, loaded_adapters}, io_struct.py), an adapter selected per /generate with lora_path. `stale`
// acknowledges every swap but keeps computing with the old weights; `lora: false` has no LoRA routes (404).
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

/** A plain-text 200 answer (vLLM's LoRA routes, health routes). */
class Text {
  constructor(readonly text: string) {}
}

export interface FakeOptions {
  /** The LoRA routes exist (default true). */
  lora?: boolean;
  /** Acknowledge swaps, keep serving the old weights. */
  stale?: boolean;
  /** The health route answers 503 while this returns true. */
  warming?: () => boolean;
  /** The model folder the server was started on (SGLang's /get_model_info). */
  modelPath?: string;
  /** Each swap request is printed on stdout (a fake run as a process logs to its server.log). */
  verbose?: boolean;
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
  port = 0,
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
        if (out instanceof Text) res.writeHead(200, { "content-type": "text/plain" }).end(out.text);
        else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
      } catch (e) {
        const status = e instanceof Refusal ? e.status : 500;
        refused.push({ status, message: (e as Error).message });
        res
          .writeHead(status, { "content-type": "application/json" })
          .end(JSON.stringify(error(status, (e as Error).message)));
      }
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
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
  const text = await res.text();
  const j = (text.startsWith("{") ? JSON.parse(text) : { text }) as Json & { error?: { message: string } };
  if (!res.ok) throw new Refusal(res.status, j.error?.message ?? String(j.message ?? "inner error"));
  return j;
}

/** LoRA adapters a fake has loaded (name → path), and the swap requests it logs. */
class Swaps {
  readonly loras = new Map<string, string>();
  constructor(
    private readonly base: string,
    private readonly o: FakeOptions,
  ) {}
  log(path: string, body: Json): void {
    if (this.o.verbose) console.log(`fake: ${path} ${JSON.stringify(body)}`);
  }
  health(): Text {
    if (this.o.warming?.()) throw new Refusal(503, "warming up");
    return new Text("");
  }
  /** The inner model that computes for a request naming `model` (an adapter, unless stale). */
  innerModel(model: unknown): string {
    return typeof model === "string" && this.loras.has(model) && !this.o.stale ? model : "inner";
  }
  async load(b: Json): Promise<string> {
    if (this.o.lora === false) throw new Refusal(404, "Not Found");
    const name = b.lora_name as string | undefined,
      path = b.lora_path as string | undefined;
    if (!name || !path) throw new Refusal(400, "Both 'lora_name' and 'lora_path' must be provided.");
    if (this.loras.has(name)) throw new Refusal(400, `The lora adapter '${name}' has already been loaded.`);
    if (!this.o.stale) await inner(this.base, "/v1/load_lora_adapter", { lora_name: name, lora_path: path });
    this.loras.set(name, path);
    return name;
  }
  async unload(b: Json): Promise<string> {
    if (this.o.lora === false) throw new Refusal(404, "Not Found");
    const name = b.lora_name as string;
    if (!this.loras.has(name)) throw new Refusal(404, `The lora adapter '${name}' cannot be found.`);
    if (!this.o.stale) await inner(this.base, "/v1/unload_lora_adapter", { lora_name: name });
    this.loras.delete(name);
    return name;
  }
}

const created = () => Math.floor(Date.now() / 1000);

/** A fake vLLM (OpenAI server) serving `name` with context `maxModelLen`, computing with the sso serve at `base`. */
export function fakeVllm(
  base: string,
  name: string,
  maxModelLen: number,
  o: FakeOptions = {},
  port = 0,
): Promise<Fake> {
  const swaps = new Swaps(base, o);
  return listen(
    async (method, path, b) => {
      if (method === "GET" && path === "/health") return swaps.health();
      if (method === "POST" && path.endsWith("_lora_adapter")) swaps.log(path, b);
      if (method === "POST" && path === "/v1/load_lora_adapter")
        return new Text(`Success: LoRA adapter '${await swaps.load(b)}' added successfully.`);
      if (method === "POST" && path === "/v1/unload_lora_adapter")
        return new Text(`Success: LoRA adapter '${await swaps.unload(b)}' removed successfully.`);
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
            ...[...swaps.loras].map(([id, root]) => ({
              id,
              object: "model",
              created: created(),
              owned_by: "vllm",
              root,
              parent: name,
              max_model_len: null,
              permission: [],
            })),
          ],
        };
      if (method !== "POST" || path !== "/v1/completions") throw new Refusal(404, "Not Found");
      if (b.model !== name && !swaps.loras.has(b.model as string))
        throw new Refusal(404, `The model \`${b.model}\` does not exist.`);
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
        model: swaps.innerModel(b.model),
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
    port,
  );
}

type Sp = Json & { max_new_tokens?: number };

/** A fake SGLang server (native /generate and the model list) serving `name` with context `contextLen`. */
export function fakeSglang(
  base: string,
  name: string,
  contextLen: number,
  o: FakeOptions = {},
  port = 0,
): Promise<Fake> {
  const swaps = new Swaps(base, o);
  let modelPath = o.modelPath ?? name;
  const one = async (ids: number[], sp: Sp, wantLogprob: boolean, start: number, model: string): Promise<Json> => {
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
        model,
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
      model,
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
      if (method === "GET" && path === "/health_generate") return swaps.health();
      if (method === "GET" && path === "/get_model_info")
        return { model_path: modelPath, tokenizer_path: modelPath, is_generation: true, weight_version: "default" };
      if (method === "POST" && (path.endsWith("_lora_adapter") || path === "/update_weights_from_disk"))
        swaps.log(path, b);
      if (method === "POST" && path === "/update_weights_from_disk") {
        if (!o.stale) await inner(base, "/update_weights_from_disk", { model_path: b.model_path });
        modelPath = b.model_path as string;
        return { success: true, message: "Succeeded to update model weights.", num_paused_requests: 0 };
      }
      if (method === "POST" && (path === "/load_lora_adapter" || path === "/unload_lora_adapter")) {
        await (path === "/load_lora_adapter" ? swaps.load(b) : swaps.unload(b));
        const loaded = Object.fromEntries(
          [...swaps.loras].map(([n, p], i) => [n, { lora_id: String(i), lora_name: n, lora_path: p, pinned: false }]),
        );
        return { success: true, error_message: null, loaded_adapters: loaded };
      }
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
            swaps.innerModel(at<string | undefined>(b.lora_path, i, undefined)),
          ),
        ),
      );
      return batch ? outs : outs[0];
    },
    (_status, message) => ({ error: { message } }),
    port,
  );
}
