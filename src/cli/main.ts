#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { join } from "node:path";
// The `sso` command line: parses flags with commander and hands each command to a library function, loaded
// lazily so that `sso --help` stays fast. Errors are printed once, as one line, with a non-zero exit.
import { Command } from "commander";
import { checkOutputsNotInputs } from "../util/output-path.js";
import { packageRoot } from "../util/package-root.js";
import { redactText } from "../util/redact.js";
import { addEvalCommands } from "./eval-commands.js";
import { Count, flag, flagList, GraceSeconds, Index, MaxNewTokens, Port, Positive, Seconds, Seed } from "./flags.js";
import {
  adapterOption,
  backendOption,
  collect,
  dtype,
  ggufDtype,
  memoryLimit,
  noMemoryCheck,
  samplingOptions,
} from "./options.js";
import { addRmCommands } from "./rm-commands.js";

const { version } = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string };

const program = new Command()
  .name("sso")
  .description("Self-Steering Optimization for Llama/Qwen2-family language models")
  .version(version)
  // Options belong to the command they follow: `sso eval --out X` and `sso eval pairwise --out Y` do not mix.
  .enablePositionalOptions()
  // Every error is one line on stderr ("sso: …") with a non-zero exit, commander's own (a bad flag value, an
  // unknown option) included; `sso COMMAND --help` shows the usage.
  .configureOutput({ outputError: (str, write) => write(`sso: ${oneLineError(str)}\n`) })
  // Every flag that names a model or adapter folder also takes a Hugging Face Hub id (org/name[@rev]): resolved
  // here, before any command runs, through the local HF cache or a download into it (src/hub/resolve.ts).
  .hook("preAction", async (_program, action) => {
    const { resolveModelFlags } = await import("../hub/flags.js");
    await resolveModelFlags(action);
  })
  // No command writes over what it reads: an output flag's path that is an input's file or lies inside an input
  // folder is refused before any work (src/util/output-path.ts).
  .hook("preAction", (_, command) => checkOutputsNotInputs(command.opts()));

/** Commander's error text as one line, without the "option … argument … is invalid." preamble our parsers repeat. */
function oneLineError(text: string): string {
  return text
    .replace(/^error: /, "")
    .replace(/^option '[^']*' argument '[\s\S]*?' is invalid\. (?=--)/, "")
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

program
  .command("info")
  .description("show the compute backends available on this machine and how each computes")
  .option("--json", "print as JSON", false)
  .option("--model <dir>", "also estimate the peak memory of scoring, synthesis and training this model here")
  .option("--config <file>", "--model: sso config (JSON or YAML) whose synth and train sections apply")
  .option(
    "--prompt-tokens <n>",
    "--model: tokens of the longest x+ / x- prompt (system message and query)",
    flag("--prompt-tokens", Count),
    450,
  )
  .option("--query-tokens <n>", "--model: tokens of the longest plain prompt x", flag("--query-tokens", Count), 50)
  .action(async (opts: import("./info.js").InfoOptions) => {
    const { runInfo } = await import("./info.js");
    runInfo(opts);
  });

program
  .command("init-model")
  .description("write a freshly initialised model folder for a Hugging Face config.json")
  .requiredOption("--config <file>", "config.json of a llama, mistral or qwen2 model")
  .requiredOption(
    "--out <dir>",
    "model folder to write (replaced atomically; an existing folder only if it holds nothing but a model folder's files)",
  )
  .option("--force", "replace an existing --out folder whatever it holds", false)
  .option("--seed <n>", "random seed", flag("--seed", Seed), 0)
  .option("--dtype <f32|bf16>", "weight dtype on disk", dtype, "F32" as const)
  .option("--tokenizer-from <dir>", "copy tokenizer and generation files from this folder")
  .action(async (opts) => (await import("./init-model.js")).runInitModel(opts));

program
  .command("score")
  .description("log-probs of given responses under a model, one JSON line per input line")
  .requiredOption("--model <dir>", "Hugging Face model folder")
  .addOption(adapterOption())
  .requiredOption("--data <file>", 'JSONL: {"messages", "response"} or {"prompt_ids", "response_ids"} per line')
  .requiredOption("--out <file>", "JSONL output: {logp, n_tokens, token_logps} per input line, in order")
  .addOption(backendOption())
  .option("--batch-tokens <n>", "tokens per forward batch", flag("--batch-tokens", Count), 4096)
  .action(async (opts) => (await import("./score.js")).runScore(opts));

samplingOptions(
  program
    .command("generate")
    .description(
      "one completion per JSONL line of chat messages (resumable: a rerun continues after the last written line)",
    )
    .requiredOption("--model <dir>", "Hugging Face model folder with tokenizer and chat template")
    .requiredOption(
      "--data <file>",
      'JSONL: {"messages": [...]} per line, optionally temperature, top_p, top_k, max_new_tokens, stop, seed, id',
    )
    .requiredOption(
      "--out <file>",
      "JSONL output: {line, text, finish_reason, n_tokens, completion_ids} in input order",
    )
    .option("--batch <n>", "sequences decoded together", flag("--batch", Count), 16)
    .option("--stop <text>", "stop string (repeatable)", collect, [] as string[])
    .option(
      "--best-of <n>",
      "sample n answers per line and write the one --reward-model rates highest",
      flag("--best-of", Count),
      1,
    )
    .option("--reward-model <dir>", "reward-model folder for --best-of"),
  256,
).action(async (opts) => (await import("./generate.js")).runGenerate(opts));

samplingOptions(
  program
    .command("chat")
    .description("talk to a model in the terminal")
    .requiredOption("--model <dir>", "Hugging Face model folder with tokenizer and chat template")
    .option("--system <text>", "system message"),
  256,
).action(async (opts) => (await import("./chat.js")).runChat(opts));

program
  .command("synth")
  .description(
    "SSO data synthesis: features, contrastive prompts, y+/y-/y° and reference log-probs per prompt (resumable)",
  )
  .requiredOption("--model <dir>", "policy model folder (also the reference model of this iteration)")
  .addOption(adapterOption())
  .requiredOption("--prompts <file>", 'JSONL: {"prompt": "..."} or {"messages": [...]} per line, optionally "id"')
  .requiredOption(
    "--out <file>",
    "JSONL records (TRL prompt/chosen/rejected + SSO columns); also OUT.progress.json, OUT.summary.json",
  )
  .option("--config <file>", "sso config (JSON or YAML); its synth section applies")
  .option("--seed <n>", "random seed (overrides the config; default 0)", flag("--seed", Seed))
  .option("--iteration <n>", "SSO iteration (overrides the config; default 0)", flag("--iteration", Index))
  .option("--batch <n>", "prompts per chunk (overrides the config; default 16)", flag("--batch", Count))
  .option("--features <file>", "feature library file, JSON or YAML (overrides the config)")
  .option(
    "--max-new-tokens <n>",
    "token limit of y+, y-, y° (overrides the config; default 256)",
    flag("--max-new-tokens", MaxNewTokens),
  )
  .addOption(backendOption())
  .option(
    "--engine <name>",
    "what samples and scores: local (this process), openai (vLLM, SGLang or sso serve, detected) or sglang",
    "local",
  )
  .option("--base-url <url>", "--engine openai/sglang: the server's URL, e.g. http://127.0.0.1:8000/v1")
  .option("--api-model <name>", "--engine openai/sglang: the model name on the server")
  .option("--api-key <key>", "--engine openai/sglang: bearer token (default: $OPENAI_API_KEY)")
  .option("--concurrency <n>", "--engine openai/sglang: requests in flight (default 16)", flag("--concurrency", Count))
  .option("--timeout <s>", "--engine openai/sglang: seconds per request (default 600)", flag("--timeout", Seconds))
  .addOption(memoryLimit())
  .addOption(noMemoryCheck())
  .action(async (opts) => (await import("./synth.js")).synthCommand(opts));

program
  .command("serve")
  .description("serve a model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions)")
  .requiredOption("--model <dir>", "Hugging Face model folder with tokenizer and chat template")
  .addOption(adapterOption())
  .option("--host <addr>", "address to bind", "127.0.0.1")
  .option("--port <n>", "port (0 = any free port)", flag("--port", Port), 8000)
  .option(
    "--api-key <key>",
    "require Authorization: Bearer KEY; prefer the SSO_API_KEY environment variable (read when this flag is absent): a flag's value is visible to other users in ps",
  )
  .option(
    "--max-queue <n>",
    "queued jobs (a prompt; two with prompt log-probs): a request that does not fit now gets 429, one larger than this 400",
    flag("--max-queue", Count),
    64,
  )
  .option("--max-batch <n>", "sequences decoded together", flag("--max-batch", Count), 8)
  .option(
    "--max-connections <n>",
    "open connections at once; more are closed as they arrive",
    flag("--max-connections", Count),
    256,
  )
  .option("--served-model-name <name>", "model id clients use (default: the folder's name)")
  .option("--grace <s>", "seconds running requests get to finish on SIGTERM", flag("--grace", GraceSeconds), 30)
  .option(
    "--allow-runtime-updates",
    "serve vLLM's /v1/load_lora_adapter + /v1/unload_lora_adapter and SGLang's /update_weights_from_disk + /get_model_info",
  )
  .addOption(backendOption())
  .action(async (opts) => (await import("./serve.js")).runServe(opts));

program
  .command("ui")
  .description("a live dashboard of the runs under a folder: status, curves, records, evaluations, compare (read-only)")
  .option("--runs <dir>", "folder whose runs (iterate, demo, train, synth, eval outputs) are shown", ".")
  .option("--host <addr>", "address to bind; any but loopback needs a token", "127.0.0.1")
  .option("--port <n>", "port (0 = any free port)", flag("--port", Port), 8080)
  .option(
    "--token <t>",
    "require this token (Authorization: Bearer T, or open the printed URL once); prefer the SSO_UI_TOKEN environment variable (read when this flag is absent): a flag's value is visible to other users in ps",
  )
  .action(async (opts) => (await import("./ui.js")).runUi(opts));

program
  .command("train")
  .description("SSO training on synthesised records; --resume continues from OUT/checkpoint exactly")
  .requiredOption("--model <dir>", "the policy model folder (with tokenizer)")
  .requiredOption("--data <file>", "records written by sso synth (JSONL)")
  .requiredOption("--out <dir>", "writes OUT/model, OUT/metrics.jsonl, OUT/checkpoint")
  .option("--config <file>", "sso config (JSON or YAML); its train section applies")
  .option("--resume", "continue from OUT/checkpoint", false)
  .option(
    "--preset <name>",
    "objective preset: sso, pbaa, sso-no-w, sso-no-g, sso-backdoor, sso-dpo, sso-v2-generator, ipo, dpo",
  )
  .option("--lr <x>", "peak learning rate", flag("--lr", Positive))
  .option("--epochs <n>", "epochs over the records", flag("--epochs", Count))
  .option("--batch-size <n>", "records per optimizer step", flag("--batch-size", Count))
  .option("--seed <n>", "record shuffling seed", flag("--seed", Seed))
  .addOption(backendOption("compute backend", true))
  .option("--trainer <name>", "ts (our engine) or torch (PyTorch ranks, python/sso_torch); default from the config")
  .option("--nproc <n>", "torch: processes (ranks) on this node", flag("--nproc", Count))
  .option("--python <path>", "torch: a Python with torch (default from the config: python3)")
  .option("--nnodes <n>", "torch: nodes; each runs this command with its --node-rank", flag("--nnodes", Count))
  .option("--node-rank <k>", "torch: this node's index (0 = the master)", flag("--node-rank", Index))
  .option("--master-addr <host>", "torch: node 0's address")
  .option("--master-port <port>", "torch: node 0's rendezvous port", flag("--master-port", Port))
  .addOption(memoryLimit())
  .addOption(noMemoryCheck())
  .action(async (opts) => (await import("./train.js")).trainCommand(opts));

program
  .command("iterate")
  .description(
    "the SSO loop: per iteration synthesise with the current policy, train, save RUN_DIR/iter-k/model (resumable)",
  )
  .requiredOption("--model <dir>", "the initial policy model folder (with tokenizer)")
  .requiredOption("--prompts <file>", 'JSONL prompts: {"prompt": "..."} or {"messages": [...]}')
  .requiredOption("--out <dir>", "run directory; rerunning with the same arguments resumes it")
  .option("--iterations <n>", "iterations (default from the config: 3)", flag("--iterations", Count))
  .option("--config <file>", "sso config (JSON or YAML): synth, train and iterate sections")
  .option(
    "--mode <v1|v2>",
    "v1: the policy writes its own pairs; v2: a generator trained with the generator objective writes them (needs train.objective.preset ipo or dpo)",
  )
  .addOption(backendOption("compute backend", true))
  .option("--trainer <name>", "ts (our engine) or torch (PyTorch ranks, python/sso_torch); default from the config")
  .option("--nproc <n>", "torch: processes (ranks) on this node", flag("--nproc", Count))
  .option("--python <path>", "torch: a Python with torch (default from the config: python3)")
  .option(
    "--server <preset>",
    "synthesise on a server this command starts, checks and stops itself: sso (sso serve), vllm or sglang (iterate.server.preset)",
  )
  .option(
    "--server-command <template>",
    "launch command, placeholders {model} {adapter} {port} {name} {host} {backend} {sso} {max_lora_rank} (default: the preset's)",
  )
  .option("--server-engine <name>", "openai (vLLM, sso serve) or sglang (default: the preset's)")
  .option("--server-port <n>", "the server's port (default: a free one per start)", flag("--server-port", Port))
  .option(
    "--server-ready-timeout <s>",
    "seconds a server start may take (default 900)",
    flag("--server-ready-timeout", Seconds),
  )
  .option(
    "--server-env <KEY=VALUE>",
    "environment variable for the server (repeatable)",
    (v: string, p: string[] = []) => [...p, v],
  )
  .option("--server-keep", "keep the server up while training (it runs on other GPUs; default: stop it)")
  .option(
    "--swap <how>",
    "restart (default), lora (load each adapter under a new name) or weights (SGLang's update_weights_from_disk)",
  )
  .option(
    "--probe-tolerance <x>",
    "max mean per-token log-prob difference of the probe (default: sso 1e-4, vllm/sglang 0.1)",
    flag("--probe-tolerance", Positive),
  )
  .addOption(memoryLimit())
  .addOption(noMemoryCheck())
  .action(async (opts) => (await import("./iterate.js")).iterateCommand(opts));

addEvalCommands(program);

program
  .command("demo")
  .description("SSO end to end on the embedded model and principle world: base vs PBAA vs SSO (--full: every ablation)")
  .option("--model <dir>", "model folder (default: the shipped models/sso-demo)")
  .option("--out <dir>", "run directory (rerunning resumes it)", "sso-demo-run")
  .option("--full", "also run w/o W, w/o G, backdoor G′ and DPO-base", false)
  .option("--seed <n>", "seed of prompts, synthesis and training", flag("--seed", Seed), 0)
  .option(
    "--seeds <list>",
    "run once per seed (OUT/seed-S) and print mean ± std, e.g. 0,1,2",
    flagList("--seeds", Seed),
  )
  .option("--iterations <n>", "SSO iterations per method", flag("--iterations", Count), 3)
  .option("--train-prompts <n>", "world training prompts per iteration", flag("--train-prompts", Count), 200)
  .option("--eval-prompts <n>", "held-out world prompts evaluated (seeded draws)", flag("--eval-prompts", Count), 200)
  .option("--eval-pool", "evaluate on the whole held-out pool, every prompt once (default with --full)")
  .option("--no-eval-pool", "evaluate on --eval-prompts seeded draws, also with --full")
  .option("--lr <x>", "learning rate", flag("--lr", Positive), 1e-4)
  .option("--beta <x>", "IPO/DPO β of every method (default: the presets' 0.1)", flag("--beta", Positive))
  .option("--methods <list>", "comma-separated methods to run instead (presets: sso, pbaa, sso-no-w, …)", (v: string) =>
    v
      .split(",")
      .map((m) => m.trim())
      .filter(Boolean),
  )
  .option(
    "--max-new-tokens <n>",
    "answer length limit (synthesis and evaluation)",
    flag("--max-new-tokens", MaxNewTokens),
    64,
  )
  .addOption(backendOption())
  .action(async (opts) => (await import("./demo.js")).runDemoCli(opts));

addRmCommands(program);

program
  .command("config")
  .description("print the effective configuration: defaults merged with --config, paths resolved")
  .option("--config <file>", "sso config (JSON or YAML)")
  .option("--json", "as JSON instead of YAML", false)
  .action(async (opts) => (await import("./config.js")).runConfig(opts));

program
  .command("export")
  .description("write a model folder as one GGUF file for llama.cpp / node-llama-cpp")
  .requiredOption("--model <dir>", "Hugging Face model folder (with tokenizer.json)")
  .requiredOption("--gguf <file>", "GGUF file to write (replaced atomically)")
  .option("--dtype <f32|f16>", "matrix dtype in the file (norms and biases stay f32)", ggufDtype, "F16" as const)
  .addOption(adapterOption("PEFT LoRA adapter folder merged into --model before exporting"))
  .addOption(backendOption("compute backend of the --adapter merge"))
  .action(async (opts) => (await import("./export.js")).runExport(opts));

program
  .command("merge")
  .description("fold a PEFT LoRA adapter into its base model and write a full Hugging Face folder")
  .requiredOption("--model <dir>", "the base model folder (its tokenizer files are carried over)")
  .requiredOption("--adapter <dir>", "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors)")
  .requiredOption(
    "--out <dir>",
    "model folder to write (replaced atomically; an existing folder only if it holds nothing but a model folder's files)",
  )
  .option("--force", "replace an existing --out folder whatever it holds", false)
  .option("--dtype <f32|bf16>", "weight dtype on disk", dtype, "F32" as const)
  .addOption(backendOption())
  .action(async (opts) => (await import("./merge.js")).runMerge(opts));

program.parseAsync().catch((e: unknown) => {
  // Any URL in the message (a judge's, a server's) is printed without its password or key (src/util/redact.ts).
  console.error(`sso: ${redactText(e instanceof Error ? e.message : String(e))}`);
  process.exit(1);
});
