// `sso info`: which backends load here, and with what (BLAS, threads).
import os from "node:os";
import { probeBackends } from "../backends/index.js";

export function runInfo(opts: { json: boolean }): void {
  const backends = probeBackends().map((b) => ({
    name: b.name,
    available: !!b.backend,
    detail: b.backend?.description ?? b.error,
  }));
  if (opts.json) {
    console.log(JSON.stringify({ node: process.version, cores: os.availableParallelism(), backends }));
    return;
  }
  console.log(`node ${process.version} · ${os.availableParallelism()} cores`);
  for (const b of backends) console.log(`${b.available ? "✓" : "✗"} ${b.name.padEnd(4)} ${b.detail}`);
}
