// `sso serve --allow-runtime-updates`: swapping what the server holds without a restart, with the routes and
// shapes of the servers `sso iterate` drives (so every swap path runs end to end on CPU):
// - vLLM's POST /v1/load_lora_adapter {lora_name, lora_path} and POST /v1/unload_lora_adapter {lora_name}
//   (vllm/entrypoints/openai/serving_models.py and the api_server routes: 200 with the plain text "Success: LoRA
//   adapter 'N' added successfully." / "… removed successfully."; 400 "Both 'lora_name' and 'lora_path' must be
//   provided.", 400 "The lora adapter 'N' has already been loaded.", 404 "The lora adapter 'N' cannot be found.",
//   as OpenAI-style JSON errors). A loaded adapter is a model of its own, the base with the adapter applied,
//   listed by GET /v1/models (parent: the base) and selected with "model": "N" on /v1/completions and chat.
// - SGLang's POST /update_weights_from_disk {model_path} (python/sglang/srt/entrypoints/http_server.py: answers
//   {success, message, num_paused_requests}, 400 with success false) and GET /get_model_info ({model_path,
//   tokenizer_path, is_generation}): the base model is replaced by the folder's weights (same architecture);
//   requests already running finish on the old weights. Served under SGLang's names: a client written for SGLang
//   works unchanged.
// Without the flag the routes answer 404, as vLLM's do without VLLM_ALLOW_RUNTIME_LORA_UPDATING. Not here: routing
// (router.ts registers these), the endpoints (completions.ts, chat.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolve } from "node:path";
import { getBackend } from "../backends/index.js";
import { loadModel, readConfig } from "../model/folder.js";
import { makeContext, now, type ServeContext } from "./context.js";
import { HttpError, readBody, sendJson } from "./http.js";
import { Scheduler } from "./scheduler.js";

interface Admin {
  /** Loaded LoRA adapters by name: each a context of its own (model + scheduler). */
  adapters: Map<string, { ctx: ServeContext; path: string }>;
}
const admins = new WeakMap<ServeContext, Admin>();
const adminOf = (ctx: ServeContext): Admin => {
  let a = admins.get(ctx);
  if (!a) admins.set(ctx, (a = { adapters: new Map() }));
  return a;
};

/** The context that serves `model`: a loaded adapter's, else the base one (which checks the name itself). */
export function contextFor(ctx: ServeContext, model: string | undefined): ServeContext {
  return (model !== undefined && admins.get(ctx)?.adapters.get(model)?.ctx) || ctx;
}

/** GET /v1/models cards of the loaded adapters (vLLM lists them with the base as parent). */
export function adapterCards(ctx: ServeContext): unknown[] {
  return [...(admins.get(ctx)?.adapters ?? [])].map(([id, a]) => ({
    id,
    object: "model",
    created: now(),
    owned_by: "sso",
    root: a.path,
    parent: ctx.opts.modelName,
    max_model_len: a.ctx.scheduler.maxPositions,
  }));
}

const sendText = (res: ServerResponse, text: string) => {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
};

function scheduler(ctx: ServeContext, model: ServeContext["opts"]["model"]): Scheduler {
  const { tok } = ctx.opts;
  return new Scheduler(model, {
    maxBatch: ctx.opts.maxBatch ?? 8,
    maxQueue: ctx.opts.maxQueue ?? 64,
    eosIds: tok.stopIds,
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
  });
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

/** Answers an admin route and returns true, or returns false for any other route. */
export async function handleAdmin(
  ctx: ServeContext,
  route: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const routes = ["POST /v1/load_lora_adapter", "POST /v1/unload_lora_adapter", "POST /update_weights_from_disk"];
  if (route === "GET /get_model_info" && ctx.opts.allowRuntimeUpdates) {
    const path = ctx.opts.modelPath ?? "";
    sendJson(res, 200, { model_path: path, tokenizer_path: path, is_generation: true });
    return true;
  }
  if (!routes.includes(route) || !ctx.opts.allowRuntimeUpdates) return false;
  const raw = await readBody(req, 1 << 20);
  const body = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const admin = adminOf(ctx);
  const backend = getBackend(ctx.opts.backend ?? "cpu");
  if (route === "POST /v1/load_lora_adapter") {
    const name = str(body.lora_name),
      path = str(body.lora_path);
    if (!name || !path)
      throw new HttpError(400, "Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput");
    if (admin.adapters.has(name) || name === ctx.opts.modelName)
      throw new HttpError(400, `The lora adapter '${name}' has already been loaded.`, "InvalidUserInput");
    if (!ctx.opts.modelPath) throw new HttpError(400, "this server does not know its model folder", "BadRequestError");
    let model: ServeContext["opts"]["model"];
    try {
      model = loadModel(ctx.opts.modelPath, backend, { adapter: resolve(path), keep16: true });
    } catch (e) {
      throw new HttpError(400, (e as Error).message, "BadRequestError");
    }
    const sub = makeContext({ ...ctx.opts, model, modelName: name }, scheduler(ctx, model));
    admin.adapters.set(name, { ctx: sub, path });
    sendText(res, `Success: LoRA adapter '${name}' added successfully.`);
    return true;
  }
  if (route === "POST /v1/unload_lora_adapter") {
    const name = str(body.lora_name);
    if (!name && body.lora_int_id === undefined)
      throw new HttpError(400, "either 'lora_name' and 'lora_int_id' needs to be provided.", "InvalidUserInput");
    const a = name ? admin.adapters.get(name) : undefined;
    if (!a) throw new HttpError(404, `The lora adapter '${name}' cannot be found.`, "NotFoundError");
    admin.adapters.delete(name!);
    void a.ctx.scheduler.close();
    sendText(res, `Success: LoRA adapter '${name}' removed successfully.`);
    return true;
  }
  // POST /update_weights_from_disk: the base model from another folder of the same architecture.
  const path = str(body.model_path);
  const fail = (message: string): true => {
    sendJson(res, 400, { success: false, message, num_paused_requests: 0 });
    return true;
  };
  if (!path) return fail("model_path is required");
  try {
    const was = ctx.opts.model.config,
      next = readConfig(path);
    for (const k of [
      "modelType",
      "vocabSize",
      "hiddenSize",
      "intermediateSize",
      "numLayers",
      "numHeads",
      "numKvHeads",
    ] as const)
      if (next[k] !== was[k]) return fail(`${path}: ${k} ${next[k]} differs from the served model's ${was[k]}`);
    const model = loadModel(path, backend, { keep16: true });
    const old = ctx.scheduler;
    ctx.opts.model = model;
    ctx.opts.modelPath = resolve(path);
    ctx.scheduler = scheduler(ctx, model);
    void old.close();
  } catch (e) {
    return fail(`Failed to update weights: ${(e as Error).message}`);
  }
  sendJson(res, 200, { success: true, message: "Succeeded to update model weights.", num_paused_requests: 0 });
  return true;
}
