// `sso iterate --model DIR --prompts FILE --iterations N --out RUN_DIR`: the config file (with --iterations,
// --backend and the --server… flags over it), then the library's runIterate (src/sso/iterate.ts), which documents
// the run directory. With --server (or iterate.server) synthesis runs on a server the command manages itself
// (src/sso/iterate-server.ts).
import { resolveConfig, SsoConfig } from "../config.js";
import { iterationEvaluator } from "../eval/iteration.js";
import { validate } from "../sso/file.js";
import { runIterate } from "../sso/iterate.js";
import { memoryFlags, type TrainCliOptions, withTrainerFlags } from "./train.js";

export interface IterateCliOptions
  extends Pick<TrainCliOptions, "trainer" | "nproc" | "python" | "memoryLimit" | "memoryCheck"> {
  model: string;
  prompts: string;
  out: string;
  iterations?: number;
  config?: string;
  backend?: string;
  mode?: "v1" | "v2";
  server?: string;
  serverCommand?: string;
  serverEngine?: string;
  serverPort?: number;
  serverReadyTimeout?: number;
  serverEnv?: string[];
  serverKeep?: boolean;
  swap?: string;
  probeTolerance?: number;
}

/** iterate.server from the file with the --server… flags over it (undefined: no server). */
function serverSection(file: Record<string, unknown> | undefined, o: IterateCliOptions): unknown {
  const flags = {
    ...(o.server !== undefined && { preset: o.server }),
    ...(o.serverCommand !== undefined && { command: o.serverCommand }),
    ...(o.serverEngine !== undefined && { engine: o.serverEngine }),
    ...(o.serverPort !== undefined && { port: o.serverPort }),
    ...(o.serverReadyTimeout !== undefined && { readyTimeout: o.serverReadyTimeout }),
    ...(o.serverKeep && { stopBeforeTrain: false }),
    ...(o.swap !== undefined && { swap: o.swap }),
    ...(o.probeTolerance !== undefined && { probeTolerance: o.probeTolerance }),
  };
  const env: Record<string, string> = {};
  for (const kv of o.serverEnv ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new Error(`--server-env: expected KEY=VALUE, got "${kv}"`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (Object.keys(env).length > 0) Object.assign(flags, { env: { ...(file?.env as object), ...env } });
  if (!file && Object.keys(flags).length === 0) return undefined;
  if (!file && o.server === undefined) {
    const given = Object.keys(flags)[0];
    const name =
      given === "stopBeforeTrain"
        ? "server-keep"
        : given === "swap" || given === "probeTolerance"
          ? given
          : `server-${given}`;
    throw new Error(
      `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --server PRESET (or iterate.server in the config)`,
    );
  }
  return { ...file, ...flags };
}

export async function iterateCommand(opts: IterateCliOptions): Promise<void> {
  const file = resolveConfig(opts.config);
  const server = serverSection(file.iterate.server as Record<string, unknown> | undefined, opts);
  const config = validate(
    {
      ...file,
      ...(opts.backend !== undefined && { backend: opts.backend }),
      train: withTrainerFlags(file.train, opts),
      iterate: {
        ...file.iterate,
        ...(opts.iterations !== undefined && { iterations: opts.iterations }),
        ...(opts.mode !== undefined && { mode: opts.mode }),
        ...(server !== undefined && { server }),
      },
    },
    SsoConfig,
    "command line",
  );
  await runIterate({
    model: opts.model,
    prompts: opts.prompts,
    out: opts.out,
    config,
    memory: memoryFlags(opts),
    evaluate: iterationEvaluator(config.iterate.eval, config.backend),
  });
}
