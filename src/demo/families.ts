// The per-family read-out of demo results (issue 33): every model's held-out pass rate per prompt family (fact,
// list, arith, harmful; "all" = every prompt), from the per-prompt scores of the final iteration, mean ± std over
// seeds; and each method's paired difference against a reference method within each family, with the same paired
// bootstrap over seeds × prompts as the overall table (report.ts pairedRows). A prompt's family is the first part of
// its id ("arith:3+4#1"). Pure functions of the demo's results: the demo's summary and tools/family-table.ts use them.
import { mean, pairedBootstrap, sampleStd } from "../eval/stats.js";
import { FAMILIES } from "../world/world.js";

/** What the read-out needs of a demo result (report.ts DemoResult): the prompts and every model's final scores. */
export interface ScoredResult {
  prompt_ids?: string[];
  base_scores?: number[];
  runs: { method: string; scores?: number[] }[];
}

export const FAMILY_GROUPS = ["all", ...FAMILIES] as const;
export type FamilyGroup = (typeof FAMILY_GROUPS)[number];

/** The family of a world prompt id; throws for an id of no family. */
export function familyOf(id: string): (typeof FAMILIES)[number] {
  const f = id.slice(0, id.indexOf(":"));
  if (!(FAMILIES as readonly string[]).includes(f)) throw new Error(`families: prompt id "${id}" names no family`);
  return f as (typeof FAMILIES)[number];
}

/** The models of a result set: "base" then every method, in run order. */
const modelsOf = (results: readonly ScoredResult[]): string[] => ["base", ...results[0].runs.map((r) => r.method)];

/** One model's final per-prompt scores in one seed ("base" = the base model's). */
function scoresOf(d: ScoredResult, model: string): number[] {
  const s = model === "base" ? d.base_scores : d.runs.find((r) => r.method === model)?.scores;
  if (!s || !d.prompt_ids)
    throw new Error(`families: no per-prompt scores of ${model} (a result from before they were kept)`);
  if (s.length !== d.prompt_ids.length)
    throw new Error(`families: ${model} has ${s.length} scores for ${d.prompt_ids.length} prompts`);
  return s;
}

/** Indices of a seed's prompts in a group. */
const indicesOf = (d: ScoredResult, g: FamilyGroup): number[] =>
  (d.prompt_ids ?? []).flatMap((id, i) => (g === "all" || familyOf(id) === g ? [i] : []));

/** Rows: each model's pass rate % per family (final iteration), mean ± sample std over the seeds. */
export function familyRows(results: readonly ScoredResult[]): string[][] {
  const n = (g: FamilyGroup) => indicesOf(results[0], g).length;
  return [
    ["model", ...FAMILY_GROUPS.map((g) => `${g} (${n(g)})`)],
    ...modelsOf(results).map((m) => [
      m,
      ...FAMILY_GROUPS.map((g) => {
        const per = results
          .map((d) => {
            const s = scoresOf(d, m),
              idx = indicesOf(d, g);
            return idx.length === 0 ? null : (100 * idx.reduce((a, i) => a + s[i], 0)) / idx.length;
          })
          .filter((v): v is number => v !== null);
        return per.length === 0 ? "–" : `${mean(per).toFixed(1)} ± ${(per.length < 2 ? 0 : sampleStd(per)).toFixed(1)}`;
      }),
    ]),
  ];
}

/**
 * Rows [model, mean, 95% CI, "seeds × prompts"] of the prompts in group `g`: each model other than `reference` minus
 * `reference` per (seed, prompt) cell, in points, with a paired bootstrap over seeds × prompts. Every seed must have
 * the same prompts in the same order (the whole held-out pool). The overall table (report.ts pairedRows) is group
 * "all"; familyPairedRows is every group.
 */
export function pairedDiffRows(
  results: readonly ScoredResult[],
  g: FamilyGroup,
  reference = "sso",
  opts: { samples?: number; seed?: number } = {},
): string[][] {
  const ids = JSON.stringify(results[0]?.prompt_ids);
  if (results.some((d) => d.prompt_ids === undefined || JSON.stringify(d.prompt_ids) !== ids))
    throw new Error("families: every seed must have evaluated the same held-out prompts (use --eval-pool)");
  const idx = indicesOf(results[0], g);
  return modelsOf(results)
    .filter((m) => m !== reference)
    .map((m) => {
      const diffs = results.map((d) => {
        const a = scoresOf(d, m),
          b = scoresOf(d, reference);
        return idx.map((i) => 100 * (a[i] - b[i]));
      });
      const r = pairedBootstrap(diffs, { samples: opts.samples ?? 10_000, seed: opts.seed ?? 0 });
      return [
        m,
        r.value === null ? "–" : r.value.toFixed(2),
        r.ci === null ? "–" : `[${r.ci.lo.toFixed(2)}, ${r.ci.hi.toFixed(2)}]`,
        `${results.length} × ${idx.length}`,
      ];
    });
}

/** Rows: pairedDiffRows of every family group, each row led by its group. */
export function familyPairedRows(
  results: readonly ScoredResult[],
  reference = "sso",
  opts: { samples?: number; seed?: number } = {},
): string[][] {
  return [
    ["family", "method", `minus ${reference} (points)`, "95% CI", "seeds × prompts"],
    ...FAMILY_GROUPS.flatMap((g) => pairedDiffRows(results, g, reference, opts).map((row) => [g, ...row])),
  ];
}
