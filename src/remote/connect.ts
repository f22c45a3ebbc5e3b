// Connecting to a remote engine: GET /v1/models names the server (vLLM's, SGLang's and `sso serve`'s model cards
// say owned_by "vllm" / "sglang" / "sso") and its context length (max_model_len), checks that it serves the model
// asked for, and picks the engine: SGLang's native API for SGLang (or --engine sglang), the vLLM-style
// /v1/completions engine otherwise. The context length is the smaller of ours and the server's, so an item that does
// not fit the server is skipped and counted before it is sent. Not here: the engines (openai.ts, sglang.ts).
import type { Engine } from "../engine/engine.js";
import { Http, type HttpOptions } from "./http.js";
import { OpenAiEngine } from "./openai.js";
import { SglangEngine } from "./sglang.js";

export interface ConnectOptions extends HttpOptions {
  /** E.g. http://127.0.0.1:8000/v1 (with or without /v1). */
  baseUrl: string;
  /** The model's name on the server. */
  model: string;
  /** "openai" (detect the server) or "sglang" (SGLang's native API without asking). */
  engine: "openai" | "sglang";
  /** Context length from our copy of the model's config.json. */
  maxPositions: number;
  stopIds: readonly number[];
  concurrency?: number;
  scorePrompts?: number;
  /** SGLang: a loaded LoRA adapter named in every /generate (lora_path). */
  loraPath?: string;
}

interface ModelCard {
  id?: string;
  owned_by?: string;
  max_model_len?: number | null;
}

/** The engine for the server at opts.baseUrl, after checking that it serves opts.model. */
export async function connectEngine(opts: ConnectOptions): Promise<Engine> {
  const root = opts.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  const http = new Http(root, opts);
  const list = await http.get<{ data?: ModelCard[] }>("/v1/models");
  const cards = Array.isArray(list.data) ? list.data : [];
  const card = cards.find((c) => c.id === opts.model);
  if (!card)
    throw new Error(
      `--api-model "${opts.model}": ${http.shown}/v1/models does not list it (the server has ${cards.map((c) => `"${c.id}"`).join(", ") || "no models"})`,
    );
  const serverLen = typeof card.max_model_len === "number" && card.max_model_len > 0 ? card.max_model_len : Infinity;
  const sglang = opts.engine === "sglang" || card.owned_by === "sglang";
  const common = {
    http,
    model: opts.model,
    maxPositions: Math.min(opts.maxPositions, serverLen),
    stopIds: opts.stopIds,
    concurrency: opts.concurrency,
    scorePrompts: opts.scorePrompts,
    loraPath: opts.loraPath,
    settings: { engine: sglang ? "sglang" : "openai", base_url: `${http.shown}/v1`, api_model: opts.model },
  };
  return sglang ? new SglangEngine(common) : new OpenAiEngine(common, card.owned_by === "sso");
}
