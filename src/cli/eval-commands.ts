// The `sso eval` command tree: the principle world's checkers or exact match, and the judged subcommands pairwise,
// grade and math. Flags only; each action loads src/cli/eval.ts, which calls the library.
import { type Command, InvalidArgumentError } from "commander";
import { Count, flag, MaxNewTokens, Seconds, Seed } from "./flags.js";
import { adapterOption, backendOption } from "./options.js";

/** Flags of a local model answering an evaluation's prompts (--model). */
function answeringOptions(cmd: Command): Command {
  return cmd
    .option(
      "--max-new-tokens <n>",
      "--model: token limit per answer (greedy)",
      flag("--max-new-tokens", MaxNewTokens),
      512,
    )
    .option("--batch <n>", "--model: sequences decoded together", flag("--batch", Count), 16)
    .addOption(backendOption("--model: compute backend"))
    .addOption(adapterOption("--model: PEFT LoRA adapter folder applied to it"));
}

/** Flags of a judged evaluation: the judge, its cache, and a local model's answering when one answers. */
function judgeOptions(cmd: Command, judges: string): Command {
  return answeringOptions(cmd)
    .option("--judge <kind>", judges, "openai")
    .option("--judge-url <url>", "--judge openai: the judge server, e.g. https://api.openai.com/v1")
    .option("--judge-model <name>", "--judge openai: the judge's model name on the server")
    .option(
      "--judge-key-env <var>",
      "environment variable holding the judge's API key (default OPENAI_API_KEY; optional for a judge on 127.0.0.1)",
    )
    .option("--judge-max-tokens <n>", "token limit of a judge's reply", flag("--judge-max-tokens", MaxNewTokens), 512)
    .option("--timeout <s>", "seconds per judge request", flag("--timeout", Seconds), 300)
    .option(
      "--cache <file>",
      "judgment cache, JSONL (default: OUT.judgments.jsonl); a rerun asks again only what was unparsed",
    )
    .option("--keep-unparsed", "answer unparsed judgments from the cache instead of asking them again", false)
    .option("--concurrency <n>", "judge requests in flight", flag("--concurrency", Count), 8)
    .option("--seed <n>", "bootstrap seed of the 95% intervals", flag("--seed", Seed), 0);
}

/** Adds `sso eval` and its subcommands to the program. */
export function addEvalCommands(program: Command): void {
  const evalCommand = program
    .command("eval")
    .enablePositionalOptions()
    .description(
      "evaluate a model: the principle world's checkers (--world) or exact match (--data); subcommands pairwise, grade, math",
    )
    .option("--model <dir>", "Hugging Face model folder with tokenizer and chat template")
    .addOption(adapterOption())
    .option("--world", "answer seeded world prompts; print the pass rate per feature, overall and mean length", false)
    .option(
      "--data <file>",
      'JSONL: {"prompt" | "messages", "answer": string | [strings]} per line; prints exact-match accuracy',
    )
    .option("--split <name>", "--world: heldout or train (default heldout)")
    .option("--n <n>", "--world: number of prompts (default 200)", flag("--n", Count))
    .option("--seed <n>", "--world: prompt sampling seed (default 0)", flag("--seed", Seed))
    .option("--out <file>", "JSON report with every answer (written atomically)")
    .option(
      "--max-new-tokens <n>",
      "token limit per answer (greedy decoding)",
      flag("--max-new-tokens", MaxNewTokens),
      128,
    )
    .option("--batch <n>", "sequences decoded together", flag("--batch", Count), 16)
    .addOption(backendOption())
    .action(async (opts) => (await import("./eval.js")).runEval(opts));

  judgeOptions(
    evalCommand
      .command("pairwise")
      .description(
        "judge a model's answers against a baseline's in both orders: win rate and length-controlled win rate with 95% CIs",
      )
      .option("--answers <file>", "the model's answers: AlpacaEval JSON [{instruction, output, generator}] or JSONL")
      .option("--model <dir>", "or a model folder that answers the baseline's instructions (or --prompts)")
      .option("--baseline <file>", "the baseline's answers, same formats")
      .option(
        "--baseline-model <dir>",
        "or a baseline model folder that answers the model's instructions (or --prompts)",
      )
      .option("--prompts <file>", 'JSONL {"prompt" | "instruction"} per line, when both sides are models')
      .requiredOption("--out <file>", "JSON report: summary and every outcome with the judge's replies")
      .option("--html <file>", "HTML page with sampled prompts' answers side by side and the verdicts")
      .option("--side-by-side <n>", "prompts shown side by side in --html", flag("--side-by-side", Count), 10),
    "openai (an OpenAI-compatible judge) or world (the principle world's checkers, offline)",
  ).action(async (opts) => (await import("./eval.js")).runPairwiseCli(opts));

  judgeOptions(
    evalCommand
      .command("grade")
      .description("MT-Bench-style single-answer grading 1–10 per turn, with references for math/reasoning/coding")
      .requiredOption(
        "--questions <file>",
        'JSONL {"question_id", "category", "turns": [...], "reference"?: [...]} per line',
      )
      .option("--answers <file>", 'JSONL {"question_id", "turns": [...]} per line')
      .option("--model <dir>", "or a model folder that answers every turn")
      .requiredOption("--out <file>", "JSON report: summary and every grade with the judge's replies"),
    "openai (an OpenAI-compatible judge)",
  ).action(async (opts) => (await import("./eval.js")).runGradeCli(opts));

  const mathCommand = evalCommand
    .command("math")
    .description("accuracy on verifiable answers: GSM8K's final number, MATH's \\boxed{}, multiple-choice letters")
    .requiredOption("--data <file>", 'JSONL {"prompt" | "question" | "problem", "answer" | "solution"} per line')
    .requiredOption("--format <name>", "gsm8k, math or choice", (v: string) => {
      if (!["gsm8k", "math", "choice"].includes(v))
        throw new InvalidArgumentError(`--format must be gsm8k, math or choice, got "${v}"`);
      return v;
    })
    .option("--answers <file>", 'JSONL {"output" | "response" | "text"} per line, line i answering line i of --data')
    .option("--model <dir>", "or a model folder that answers each prompt")
    .option("--out <file>", "JSON report with every extracted answer")
    .option("--seed <n>", "bootstrap seed of the 95% interval", flag("--seed", Seed), 0);
  answeringOptions(mathCommand).action(async (opts) => (await import("./eval.js")).runMathCli(opts));
}
