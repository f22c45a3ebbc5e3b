// `sso demo`: see src/demo/run.ts. Thin: flags in, library call, table out.
import { type DemoOptions, runDemo, runDemoSeeds } from "../demo/run.js";

export function runDemoCli(opts: DemoOptions): void {
  if (opts.seeds !== undefined) runDemoSeeds({ ...opts, seeds: opts.seeds });
  else runDemo(opts);
}
