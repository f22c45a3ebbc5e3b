// `sso synth --model DIR --prompts PROMPTS.jsonl --out DATA.jsonl [--config FILE]`: flags and the config file into a
// resolved synthesis config, then the library's runSynth (src/sso/run-synth.ts). With `--engine openai` (vLLM,
// SGLang or `sso serve`, told apart by GET /v1/models) or `--engine sglang` sampling and scoring run on a server; the model folder still gives the tokenizer, the chat template,
// the context length and the policy hash.
import { loadConfig } from "../config.js";
import { resolveSynthConfig, type SynthOverrides } from "../sso/config.js";
import { type RemoteOptions, runSynth } from "../sso/run-synth.js";
import { memoryFlags } from "./train.js";

export interface SynthCliOptions extends SynthOverrides {
  model: string;
  prompts: string;
  out: string;
  config?: string;
  backend: string;
  /** A PEFT LoRA adapter folder applied to the model (src/model/peft.ts). */
  adapter?: string;
  /** local (default), openai (detects vLLM / SGLang / sso serve) or sglang. */
  engine?: string;
  baseUrl?: string;
  apiModel?: string;
  apiKey?: string;
  concurrency?: number;
  /** Seconds per request. */
  timeout?: number;
  memoryLimit?: number;
  memoryCheck?: boolean;
}

/** The remote engine's settings for --engine openai, or undefined for the in-process one. */
function remoteOptions(opts: SynthCliOptions): RemoteOptions | undefined {
  const engine = opts.engine ?? "local";
  if (engine === "local") {
    const stray = (["baseUrl", "apiModel", "apiKey", "concurrency", "timeout"] as const).find(
      (k) => opts[k] !== undefined,
    );
    if (stray)
      throw new Error(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --engine openai or sglang`);
    return undefined;
  }
  if (engine !== "openai" && engine !== "sglang")
    throw new Error(`--engine must be local, openai or sglang, got "${engine}"`);
  if (!opts.baseUrl || !opts.apiModel) throw new Error(`--engine ${engine} needs --base-url and --api-model`);
  return {
    engine,
    baseUrl: opts.baseUrl,
    apiModel: opts.apiModel,
    apiKey: opts.apiKey,
    concurrency: opts.concurrency ?? 16,
    timeoutSeconds: opts.timeout ?? 600,
  };
}

export async function synthCommand(opts: SynthCliOptions): Promise<void> {
  const config = resolveSynthConfig(loadConfig(opts.config).synth, opts.config, opts);
  await runSynth({
    model: opts.model,
    prompts: opts.prompts,
    out: opts.out,
    config,
    backend: opts.backend,
    remote: remoteOptions(opts),
    adapter: opts.adapter,
    memory: memoryFlags(opts),
  });
}
