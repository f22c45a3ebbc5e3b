// Swapping the policy on a running server without a restart, with each project's own routes and shapes:
// vLLM's POST /v1/load_lora_adapter and /v1/unload_lora_adapter ({lora_name, lora_path}; 200 with a plain-text
// "Success: …", errors as JSON with a message; the routes exist only with VLLM_ALLOW_RUNTIME_LORA_UPDATING),
// SGLang's POST /load_lora_adapter and /unload_lora_adapter (answers {success, error_message, loaded_adapters}),
// SGLang's POST /update_weights_from_disk {model_path} (answers {success, message, …}; 400 when it failed) and
// GET /get_model_info (model_path). `sso serve --allow-runtime-updates` serves all of them (src/serve/admin.ts).
// Every failure is one line naming the route; a 404 says how to start the server for the route.
import { resolve } from "node:path";

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown> | null;
}

async function call(root: string, method: string, path: string, body?: unknown): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(`${root}${path}`, {
      method,
      ...(body !== undefined && { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      signal: AbortSignal.timeout(600_000),
    });
  } catch (e) {
    throw new Error(`${method} ${root}${path}: ${((e as Error).cause as Error)?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* vLLM's LoRA routes answer success as plain text */
  }
  return { status: res.status, text, json };
}

/** The message of an error answer: vLLM's {error: {message}} or {message}, SGLang's {error_message} / {message}. */
function messageOf(a: Answer): string {
  const j = a.json as { error?: { message?: string } | string; message?: string; error_message?: string } | null;
  const m = typeof j?.error === "string" ? j.error : (j?.error?.message ?? j?.error_message ?? j?.message);
  return (m ?? a.text).slice(0, 300);
}

const HOW_TO = {
  lora: {
    openai:
      "start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora --max-lora-rank R (the vllm preset does), or sso serve with --allow-runtime-updates (the sso preset does)",
    sglang: "start SGLang with --enable-lora --max-lora-rank R --lora-target-modules … (the sglang preset does)",
  },
  weights:
    "start SGLang (any recent version serves it) or sso serve with --allow-runtime-updates (the sso preset does); vLLM restarts instead (iterate.server.swap: restart)",
};

function fail(what: string, method: string, root: string, path: string, a: Answer, how: string): never {
  const hint = a.status === 404 ? `: the server has no such route; ${how}` : "";
  throw new Error(`${what}: ${method} ${root}${path}: HTTP ${a.status}: ${messageOf(a)}${hint}`);
}

export async function loadLoraAdapter(
  root: string,
  engine: "openai" | "sglang",
  name: string,
  adapter: string,
  what: string,
  _preset: string,
): Promise<void> {
  const path = engine === "sglang" ? "/load_lora_adapter" : "/v1/load_lora_adapter";
  const a = await call(root, "POST", path, { lora_name: name, lora_path: resolve(adapter) });
  if (a.status !== 200 || (engine === "sglang" && a.json?.success !== true))
    fail(what, "POST", root, path, a, HOW_TO.lora[engine]);
}

export async function unloadLoraAdapter(
  root: string,
  engine: "openai" | "sglang",
  name: string,
  what: string,
): Promise<void> {
  const path = engine === "sglang" ? "/unload_lora_adapter" : "/v1/unload_lora_adapter";
  const a = await call(root, "POST", path, { lora_name: name });
  if (a.status !== 200 || (engine === "sglang" && a.json?.success !== true))
    fail(what, "POST", root, path, a, HOW_TO.lora[engine]);
}

export async function updateWeightsFromDisk(root: string, model: string, what: string): Promise<void> {
  const path = "/update_weights_from_disk";
  const a = await call(root, "POST", path, { model_path: resolve(model) });
  if (a.status !== 200 || a.json?.success !== true) fail(what, "POST", root, path, a, HOW_TO.weights);
}

/** GET /get_model_info names the folder the server loaded: it must be `model`. */
export async function checkModelPath(root: string, model: string, what: string): Promise<void> {
  const path = "/get_model_info";
  const a = await call(root, "GET", path);
  if (a.status !== 200) fail(what, "GET", root, path, a, HOW_TO.weights);
  const served = a.json?.model_path;
  if (typeof served !== "string" || resolve(served) !== resolve(model))
    throw new Error(`${what}: GET ${root}${path}: the server holds ${JSON.stringify(served)}, not ${resolve(model)}`);
}
