// `sso info`: which backends load here, and with what (BLAS, threads); with --model, the peak-memory estimates of
// scoring, synthesis and training that model here (src/sso/memory-check.ts).
import os from "node:os";
import { probeBackends } from "../backends/index.js";
import { resolveConfig } from "../config.js";
import { keeps16, readConfig } from "../model/folder.js";
import { describeEstimate, gb } from "../model/memory.js";
import { memoryReport } from "../sso/memory-check.js";

export interface InfoOptions {
  json: boolean;
  model?: string;
  config?: string;
  /** Tokens of x+ / x- (system message and query) and of x (the query alone). */
  promptTokens: number;
  queryTokens: number;
}

export function runInfo(opts: InfoOptions): void {
  const backends = probeBackends().map((b) => ({
    name: b.name,
    available: !!b.backend,
    detail: b.backend?.description ?? b.error,
  }));
  const memory = opts.model
    ? memoryReport(
        readConfig(opts.model),
        resolveConfig(opts.config),
        { plain: opts.queryTokens, contrast: opts.promptTokens },
        keeps16(opts.model),
      )
    : undefined;
  if (opts.json) {
    console.log(JSON.stringify({ node: process.version, cores: os.availableParallelism(), backends, memory }));
    return;
  }
  console.log(`node ${process.version} · ${os.availableParallelism()} cores`);
  for (const b of backends) console.log(`${b.available ? "✓" : "✗"} ${b.name.padEnd(4)} ${b.detail}`);
  if (!memory) return;
  console.log(
    `memory: ${gb(memory.limit.bytes)} (${memory.limit.source}); estimated peaks, prompts of ${opts.promptTokens} tokens (x±) and ${opts.queryTokens} (x):`,
  );
  for (const l of memory.lines) {
    const fits = l.estimate.total <= memory.limit.bytes ? "✓" : "✗";
    console.log(`${fits} ${gb(l.estimate.total).padStart(9)}  ${l.what}: ${describeEstimate(l.estimate)}`);
  }
}
