// The precondition of self-steering, measured on whole held-out pool of the principle world (issue 20, protocol item
// 3): for each model folder, greedy answers plain, under the good-principle system message x+ and under the bad one
// x-, judged by the world's checkers; the gap is x+ overall minus plain overall. Prints a markdown table and writes
// the numbers as JSON (atomically).
//
//   npm run make-demo-model   (first, for the models)
//   node dist/tools/principle-gap.js --out gaps.json models/sso-demo experiments/variants/demo-12000-e2 …
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { getBackend } from "../src/backends/index.js";
import { loadModel } from "../src/model/folder.js";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { heldOutPool, type WorldSummary } from "../src/world/index.js";
import { DEMO, principleConditions } from "./make-demo-model.js";

export interface GapRow {
  model: string;
  prompts: number;
  plain: WorldSummary;
  pos: WorldSummary;
  neg: WorldSummary;
  /** pos.overall − plain.overall, in points. */
  gap: number;
  seconds: number;
}

/** x+ / plain / x- on the whole held-out pool for one model folder. */
export function principleGap(dir: string, backend = "cpu"): GapRow {
  const t0 = performance.now(),
    prompts = heldOutPool();
  const c = principleConditions(loadModel(dir, getBackend(backend)), Tokenizer.fromDir(dir), prompts, DEMO.seed);
  const gap = 100 * ((c.pos.overall ?? 0) - (c.plain.overall ?? 0));
  return { model: dir, prompts: prompts.length, ...c, gap, seconds: (performance.now() - t0) / 1000 };
}

const pct = (s: WorldSummary): string => (100 * (s.overall ?? 0)).toFixed(1);

export const gapTable = (rows: readonly GapRow[]): string =>
  [
    "| model | x+ (good) | plain | x- (bad) | gap x+ − plain | mean chars plain | seconds |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.model} | ${pct(r.pos)} | ${pct(r.plain)} | ${pct(r.neg)} | ${r.gap.toFixed(1)} | ${r.plain.mean_chars.toFixed(0)} | ${r.seconds.toFixed(0)} |`,
    ),
  ].join("\n");

function main(): void {
  const { values, positionals } = parseArgs({
    options: { out: { type: "string" }, backend: { type: "string", default: "cpu" } },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new Error("principle-gap: give at least one model folder");
  const rows: GapRow[] = [];
  for (const dir of positionals) {
    rows.push(principleGap(resolve(dir), values.backend));
    console.error(gapTable(rows.slice(-1)));
    if (values.out) writeFileAtomic(values.out, `${JSON.stringify(rows, null, 2)}\n`);
  }
  console.log(gapTable(rows));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
