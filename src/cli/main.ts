#!/usr/bin/env node
// The `sso` command line: parses flags with commander and hands each command to a library function, loaded
// lazily so that `sso --help` stays fast. Errors are printed once, as one line, with a non-zero exit.
import { Command, InvalidArgumentError } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../util/package-root.js";

const { version } = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string };

const program = new Command()
  .name("sso")
  .description("Self-Steering Optimization for Llama/Qwen2-family language models")
  .version(version)
  .showHelpAfterError();

program
  .command("info")
  .description("show the compute backends available on this machine and how each computes")
  .option("--json", "print as JSON", false)
  .action(async (opts: { json: boolean }) => {
    const { runInfo } = await import("./info.js");
    runInfo(opts);
  });

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
  return n;
};
const dtype = (v: string): "F32" | "BF16" => {
  const d = v.toUpperCase();
  if (d !== "F32" && d !== "BF16") throw new InvalidArgumentError(`expected f32 or bf16, got "${v}"`);
  return d;
};

program
  .command("init-model")
  .description("write a freshly initialised model folder for a Hugging Face config.json")
  .requiredOption("--config <file>", "config.json of a llama, mistral or qwen2 model")
  .requiredOption("--out <dir>", "model folder to write (replaced atomically)")
  .option("--seed <n>", "random seed", int("--seed"), 0)
  .option("--dtype <f32|bf16>", "weight dtype on disk", dtype, "F32" as const)
  .option("--tokenizer-from <dir>", "copy tokenizer and generation files from this folder")
  .action(async (opts) => (await import("./init-model.js")).runInitModel(opts));

program
  .command("score")
  .description("log-probs of given responses under a model, one JSON line per input line")
  .requiredOption("--model <dir>", "Hugging Face model folder")
  .requiredOption("--data <file>", 'JSONL: {"messages", "response"} or {"prompt_ids", "response_ids"} per line')
  .requiredOption("--out <file>", "JSONL output: {logp, n_tokens, token_logps} per input line, in order")
  .option("--backend <name>", "compute backend (ref, cpu)", "cpu")
  .option("--batch-tokens <n>", "tokens per forward batch", int("--batch-tokens"), 4096)
  .action(async (opts) => (await import("./score.js")).runScore(opts));

program.parseAsync().catch((e: unknown) => {
  console.error(`sso: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
