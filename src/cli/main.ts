#!/usr/bin/env node
// The `sso` command line: parses flags with commander and hands each command to a library function, loaded
// lazily so that `sso --help` stays fast. Errors are printed once, as one line, with a non-zero exit.
import { Command } from "commander";
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

program.parseAsync().catch((e: unknown) => {
  console.error(`sso: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
