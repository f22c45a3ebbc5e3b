// `sso demo`: see src/demo/run.ts. Thin: flags in, library call, table out.
import { runDemo, type DemoOptions } from "../demo/run.js";

export function runDemoCli(opts: DemoOptions): void {
  runDemo(opts);
}
