// The command line's model-naming flags resolved to local folders (resolve.ts) before a command runs, so every
// command takes a Hub id where it takes a model or adapter folder, and --prompts files in the common dataset
// formats and shapes become canonical prompts JSONL. Applied once, in main.ts's preAction hook.
import { preparePrompts, prepareRecords } from "../data/prompts.js";
import { resolveModel } from "./resolve.js";

/** Option keys (commander's camelCase) whose value is a model or adapter folder. */
export const MODEL_FLAGS = ["model", "adapter", "rewardModel", "baselineModel", "tokenizerFrom"] as const;

interface OptionHolder {
  name(): string;
  opts(): Record<string, unknown>;
  setOptionValue(key: string, value: unknown): unknown;
}

/** Replaces each model-naming flag's value on `cmd` with its local folder; errors name the flag. */
export async function resolveModelFlags(cmd: OptionHolder, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const opts = cmd.opts();
  // --prompts (synth, iterate, eval pairwise): JSONL, a JSON array or Parquet, FILE#FIELD (src/data/prompts.ts).
  // --data of the JSONL-only readers: Parquet, JSON arrays, Hub dataset ids and slices as JSONL, rows unchanged
  // (rm train's repeatable FILE[:weight] list is left as it is).
  if (typeof opts.data === "string") {
    try {
      cmd.setOptionValue("data", await prepareRecords(opts.data, env));
    } catch (e) {
      throw new Error(`--data ${(e as Error).message}`);
    }
  }
  if (typeof opts.prompts === "string") {
    try {
      cmd.setOptionValue("prompts", await preparePrompts(opts.prompts, env));
    } catch (e) {
      throw new Error(`--prompts ${(e as Error).message}`);
    }
  }
  for (const key of MODEL_FLAGS) {
    const v = opts[key];
    if (typeof v !== "string") continue;
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    try {
      // sso info reads config.json only (the memory estimate), --tokenizer-from the tokenizer files: neither
      // needs the weights downloaded.
      const need = cmd.name() === "info" ? "config" : key === "tokenizerFrom" ? "tokenizer" : "model";
      const dir = await resolveModel(v, env, need);
      cmd.setOptionValue(key, dir);
      // sso serve names the model after its folder by default: a Hub id keeps its id, as vLLM does.
      if (key === "model" && dir !== v && cmd.name() === "serve" && opts.servedModelName === undefined)
        cmd.setOptionValue("servedModelName", v);
    } catch (e) {
      throw new Error(`${flag} ${(e as Error).message}`);
    }
  }
}
