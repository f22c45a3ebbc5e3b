// The `sso rm` command tree: train, score, eval, filter and the reward-model demo. Flags only; each action loads
// src/cli/rm.ts, which calls the library.
import type { Command } from "commander";
import {
  Count,
  Finite,
  flag,
  flagList,
  Index,
  MaxNewTokens,
  NonNegative,
  Positive,
  Probability,
  Seed,
} from "./flags.js";
import { backendOption, collect } from "./options.js";

/** Adds `sso rm` and its subcommands to the program. */
export function addRmCommands(program: Command): void {
  const rmCommand = program
    .command("rm")
    .enablePositionalOptions()
    .description("reward models: train (Bradley–Terry), score responses, evaluate pairwise accuracy");
  rmCommand
    .command("train")
    .description(
      "train a reward model (HF *ForSequenceClassification folder) on preference pairs; --resume continues exactly",
    )
    .requiredOption(
      "--model <dir>",
      "a reward-model folder, or a causal LM folder (lm_head dropped, score head from --seed)",
    )
    .requiredOption(
      "--data <file[:weight]>",
      "preference JSONL, repeatable: SSO records, TRL prompt/chosen/rejected (plain or conversational), RewardBench rows; :weight mixes (2 = twice, 0.5 = a seeded half)",
      collect,
      [] as string[],
    )
    .requiredOption("--out <dir>", "writes OUT/model, OUT/metrics.jsonl, OUT/checkpoint")
    .option("--resume", "continue from OUT/checkpoint", false)
    .option("--lr <x>", "peak learning rate (default 1e-5)", flag("--lr", Positive))
    .option("--epochs <n>", "epochs over the pairs (default 1)", flag("--epochs", Count))
    .option("--batch-size <n>", "pairs per optimizer step (default 16)", flag("--batch-size", Count))
    .option("--micro-batch <n>", "pairs per forward/backward (default 8)", flag("--micro-batch", Count))
    .option("--seed <n>", "shuffling, mixing and score-head seed (default 0)", flag("--seed", Seed))
    .option(
      "--center-rewards <c>",
      "adds c·(r_chosen + r_rejected)² per pair (default 0)",
      flag("--center-rewards", NonNegative),
    )
    .option(
      "--save-every <n>",
      "optimizer steps between checkpoints (0 = only at the end; default 50)",
      flag("--save-every", Index),
    )
    .option(
      "--max-length <n>",
      "skip pairs longer than this many tokens (default: max_position_embeddings)",
      flag("--max-length", Count),
    )
    .option(
      "--sso-contrastive",
      "SSO records also give (x+, y+ ≻ y-): the positive system message before the prompt",
      false,
    )
    .addOption(backendOption())
    .action(async (opts) => (await import("./rm.js")).runRmTrainCli(opts));
  rmCommand
    .command("score")
    .description("one reward per JSONL line, in order (resumable: a rerun continues after the last written line)")
    .requiredOption("--model <dir>", "reward-model folder (*ForSequenceClassification, with tokenizer)")
    .requiredOption("--data <file>", 'JSONL: {"prompt" | "messages", "response"} per line, optionally "id"')
    .requiredOption("--out <file>", "JSONL output: {line, id?, reward} per input line")
    .addOption(backendOption())
    .option("--batch-tokens <n>", "tokens per forward batch", flag("--batch-tokens", Count), 4096)
    .action(async (opts) => (await import("./rm.js")).runRmScoreCli(opts));
  rmCommand
    .command("eval")
    .description("pairwise accuracy (ties apart), per subset and RewardBench sections, with bootstrap 95% CIs")
    .requiredOption("--model <dir>", "reward-model folder (*ForSequenceClassification, with tokenizer)")
    .requiredOption("--data <file>", "preference JSONL (the formats of rm train; RewardBench rows carry subset)")
    .requiredOption("--out <file>", "JSON report; the table goes to OUT.md too (both written atomically)")
    .option("--seed <n>", "bootstrap seed", flag("--seed", Seed), 0)
    .addOption(backendOption())
    .option("--batch-tokens <n>", "tokens per forward batch", flag("--batch-tokens", Count), 4096)
    .action(async (opts) => (await import("./rm.js")).runRmEvalCli(opts));
  rmCommand
    .command("filter")
    .description("keep the SSO records whose y+ out-scores y- under a reward model by at least --margin")
    .requiredOption("--model <dir>", "reward-model folder (*ForSequenceClassification, with tokenizer)")
    .requiredOption("--data <file>", "records written by sso synth (JSONL)")
    .requiredOption("--out <file>", "the kept records, unchanged (written atomically)")
    .option("--margin <x>", "least r(x, y+) − r(x, y-) kept", flag("--margin", Finite), 0)
    .addOption(backendOption())
    .option("--batch-tokens <n>", "tokens per forward batch", flag("--batch-tokens", Count), 4096)
    .action(async (opts) => (await import("./rm.js")).runRmFilterCli(opts));
  rmCommand
    .command("demo")
    .description(
      "the paper's RM experiment in the principle world: RMs on human / human+noisy / human+SSO / SSO pairs, held-out accuracy over seeds",
    )
    .option("--model <dir>", "base model folder (default: the shipped models/sso-demo)")
    .option("--out <dir>", "run directory (rerunning resumes it)", "sso-rm-demo-run")
    .option("--seeds <list>", "seeds, e.g. 0,1,2", flagList("--seeds", Seed), [0, 1, 2])
    .option("--prompts <n>", "training prompts per data set", flag("--prompts", Count), 300)
    .option("--held-out <n>", "held-out prompts for the evaluation pairs", flag("--held-out", Count), 400)
    .option("--samples <n>", "answers sampled per prompt for the checker-labelled sets", flag("--samples", Count), 4)
    .option("--flip <p>", "noisy set: share of labels flipped", flag("--flip", Probability), 0.25)
    .option(
      "--ties <p>",
      "noisy set: forced choices between equally rated answers, as a share of its pairs",
      flag("--ties", Probability),
      0.2,
    )
    .option("--lr <x>", "RM learning rate", flag("--lr", Positive), 1e-4)
    .option("--epochs <n>", "RM epochs", flag("--epochs", Count), 2)
    .option("--max-new-tokens <n>", "answer length limit", flag("--max-new-tokens", MaxNewTokens), 64)
    .addOption(backendOption())
    .action(async (opts) => (await import("./rm.js")).runRmDemoCli(opts));
}
