// The precondition of self-steering, measured on whole held-out pool of the principle world (issue 20, protocol item
// 3): for each model folder, greedy answers plain, under the good-principle system message x+ and under the bad one
// x-, judged by the world's checkers; the gap is x+ overall minus plain overall. Prints a markdown table and writes
// the numbers as JSON (atomically, after each model; a rerun measures only the models the file lacks). With
// --candidates (folders in ascending corpus size), the last line is "picked DIR": the candidate with the largest
// gap, a tie within 0.1 point going to the smaller corpus (the issue-20 protocol's selection rule).
//
//   node dist/tools/principle-gap.js --out gaps.json --candidates A,B models/sso-demo A B
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { getBackend } from "../src/backends/index.js";
import { loadModel } from "../src/model/folder.js";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { readJson } from "../src/util/files.js";
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

/** The protocol's pick: the largest gap among `candidates` (ascending corpus size); within 0.1 point, the first. */
export function pickByGap(rows: readonly GapRow[], candidates: readonly string[]): string {
  const gaps = candidates.map((c) => {
    const row = rows.find((r) => r.model === c);
    if (!row) throw new Error(`principle-gap: candidate ${c} was not measured`);
    return row.gap;
  });
  const best = Math.max(...gaps);
  return candidates[gaps.findIndex((g) => g >= best - 0.1)];
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: {
      out: { type: "string" },
      candidates: { type: "string" },
      backend: { type: "string", default: "cpu" },
    },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new Error("principle-gap: give at least one model folder");
  const rows: GapRow[] = values.out && existsSync(values.out) ? (readJson(values.out) as { rows: GapRow[] }).rows : [];
  const save = (picked?: string) =>
    values.out && writeFileAtomic(values.out, `${JSON.stringify({ rows, picked }, null, 2)}\n`);
  for (const dir of positionals.map((d) => resolve(d))) {
    if (rows.some((r) => r.model === dir)) continue;
    rows.push(principleGap(dir, values.backend));
    console.error(gapTable(rows.slice(-1)));
    save();
  }
  console.log(gapTable(rows));
  if (values.candidates) {
    const picked = pickByGap(
      rows,
      values.candidates.split(",").map((c) => resolve(c)),
    );
    save(picked);
    console.log(`picked ${picked}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
