// `sso iterate --model DIR --prompts FILE --iterations N --out RUN_DIR`: the config file (with --iterations and
// --backend over it), then the library's runIterate (src/sso/iterate.ts), which documents the run directory.
import { resolveConfig, SsoConfig } from "../config.js";
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
}

export function iterateCommand(opts: IterateCliOptions): void {
  const file = resolveConfig(opts.config);
  const config = validate(
    {
      ...file,
      ...(opts.backend !== undefined && { backend: opts.backend }),
      train: withTrainerFlags(file.train, opts),
      iterate: {
        ...file.iterate,
        ...(opts.iterations !== undefined && { iterations: opts.iterations }),
        ...(opts.mode !== undefined && { mode: opts.mode }),
      },
    },
    SsoConfig,
    "command line",
  );
  runIterate({ model: opts.model, prompts: opts.prompts, out: opts.out, config, memory: memoryFlags(opts) });
}
