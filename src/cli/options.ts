// Command-line option builders shared by several commands: choices, repeatable values, the sampling flags and
// the memory check's flags. The numeric validators are flags.ts.
import { type Command, InvalidArgumentError, Option } from "commander";
import { BACKEND_NAMES } from "../backends/index.js";
import { flag, MaxNewTokens, Positive, Seed, Temperature, TopK, TopP } from "./flags.js";

/** A case-insensitive choice among upper-case names, e.g. --dtype f32|bf16. */
export const oneOf =
  <T extends string>(...names: T[]) =>
  (v: string): T => {
    const d = v.toUpperCase() as T;
    if (!names.includes(d))
      throw new InvalidArgumentError(`expected ${names.map((n) => n.toLowerCase()).join(" or ")}, got "${v}"`);
    return d;
  };
export const dtype = oneOf("F32", "BF16");
export const ggufDtype = oneOf("F32", "F16");

/** --backend, declared once for every command: `what` says which model it computes (e.g. "--model: compute
 *  backend"); commands that read the config take its default from there instead of "cpu". */
export const backendOption = (what = "compute backend", fromConfig = false): Option =>
  fromConfig
    ? new Option("--backend <name>", `${what} (${BACKEND_NAMES.join(", ")}); default from the config`)
    : new Option("--backend <name>", `${what} (${BACKEND_NAMES.join(", ")})`).default("cpu");

/** --adapter, declared once for every command that applies a PEFT adapter to --model. */
export const adapterOption = (
  what = "PEFT LoRA adapter folder applied to --model (adapter_config.json + adapter_model.safetensors)",
): Option => new Option("--adapter <dir>", what);

/** A repeatable option's values in order (--stop a --stop b). */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Sampling flags shared by generate and chat (defaults: the SSO spec's 0.7 / 0.8). */
export function samplingOptions(cmd: Command, maxNewTokens: number): Command {
  return cmd
    .addOption(adapterOption())
    .addOption(backendOption())
    .option("--seed <n>", "random seed", flag("--seed", Seed), 0)
    .option("--temperature <t>", "sampling temperature; 0 = greedy", flag("--temperature", Temperature), 0.7)
    .option("--top-p <p>", "nucleus mass (1 = off)", flag("--top-p", TopP), 0.8)
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", flag("--top-k", TopK), 0)
    .option("--max-new-tokens <n>", "token limit per completion", flag("--max-new-tokens", MaxNewTokens), maxNewTokens);
}

/** The memory check's flags (train, synth, iterate): a limit other than the machine's, or no check at all. */
export const memoryLimit = () =>
  new Option(
    "--memory-limit <GB>",
    "refuse when the estimated peak memory exceeds this many GB (2^30 bytes) instead of the machine's",
  ).argParser(flag("--memory-limit", Positive));
export const noMemoryCheck = () => new Option("--no-memory-check", "skip the peak-memory estimate before the run");
