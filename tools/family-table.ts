// The per-family read-out (src/demo/families.ts) of finished demo runs, e.g. issue 20's middle-regime run: each
// argument is a demo output folder — one run over several seeds (its summary.json) or one seed's (its demo.json);
// several folders' results are pooled as seeds (they must have evaluated the same prompts for the paired table).
// Prints markdown; --out also writes it (atomically).
//
//   node dist/tools/family-table.js [--reference sso] [--out FILE.md] DIR...
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { familyPairedRows, familyRows } from "../src/demo/families.js";
import type { DemoResult } from "../src/demo/report.js";
import { markdownTable } from "../src/demo/report.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { readJson } from "../src/util/files.js";

/** The demo results of one output folder: summary.json's per-seed results, else demo.json's single result. */
export function readDemoResults(dir: string): DemoResult[] {
  const summary = join(dir, "summary.json"),
    single = join(dir, "demo.json");
  if (existsSync(summary)) {
    const s = readJson(summary) as { results?: DemoResult[] };
    if (!Array.isArray(s.results)) throw new Error(`${summary}: no "results" list (not a demo summary)`);
    return s.results;
  }
  if (existsSync(single)) {
    const { options: _, ...result } = readJson(single) as { options: unknown } & DemoResult;
    if (!Array.isArray(result.runs)) throw new Error(`${single}: no "runs" list (not a demo result)`);
    return [result];
  }
  throw new Error(`${dir}: neither summary.json nor demo.json (not a finished demo run)`);
}

/** The markdown read-out of pooled results. */
export function familyMarkdown(results: readonly DemoResult[], reference: string, sources: readonly string[]): string {
  if (results.length === 0) throw new Error("no results");
  if (!results[0].runs.some((r) => r.method === reference))
    throw new Error(
      `--reference: no method ${reference} in the runs (${results[0].runs.map((r) => r.method).join(", ")})`,
    );
  return (
    `Per-family read-out of ${sources.join(", ")} (${results.length} seeds; final iteration).\n\n` +
    `Pass rate % per family (prompts in brackets), mean ± std over seeds:\n\n${markdownTable(familyRows(results))}\n\n` +
    `Paired difference against ${reference} per family, per (seed, prompt) in points, 95% paired bootstrap over ` +
    `seeds × prompts (10,000 resamples, seed 0):\n\n${markdownTable(familyPairedRows(results, reference))}\n`
  );
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { out: { type: "string" }, reference: { type: "string", default: "sso" } },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new Error("give at least one demo output folder");
  const results = positionals.flatMap(readDemoResults),
    md = familyMarkdown(results, values.reference, positionals);
  if (values.out) writeFileAtomic(values.out, md);
  console.log(md);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    main();
  } catch (e) {
    console.error(`family-table: ${(e as Error).message}`);
    process.exit(1);
  }
}
