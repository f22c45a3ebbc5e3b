// The demo's outputs for people: the comparison table as text and an HTML report with line charts (training loss,
// W and G per step, world adherence per iteration) and the same table. The charts are the dashboard's (`sso ui`,
// ui/chart.ts on uPlot): the page carries the numbers and the bundled chart code inline, so it opens offline.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PairwiseSummary } from "../eval/pairwise.js";
import { rateText, SIDE_BY_SIDE_CSS } from "../eval/report.js";
import { packageRoot } from "../util/package-root.js";
import type { PairJudgement, WorldSummary } from "../world/evaluate.js";
import { familyRows, pairedDiffRows } from "./families.js";

export interface MethodRun {
  method: string;
  /** Evaluation after each iteration (index 0 = iteration 1). */
  evals: WorldSummary[];
  /** Training metrics of every step, iterations concatenated. */
  steps: { loss: number; W: number; G: number; iteration: number }[];
  /** Each iteration's synthesised pairs judged by the world's checkers (absent in results from before this field). */
  pairs?: PairJudgement[];
  /** The final iteration against the base model, judged pairwise by the world's checkers (absent in older results). */
  vs_base?: PairwiseSummary;
  /** The final iteration's score (mean pass over the applicable features) per held-out prompt, in prompt order. */
  scores?: number[];
}

export interface DemoResult {
  base: WorldSummary;
  runs: MethodRun[];
  features: string[];
  /** The held-out prompts' ids in evaluation order, and the base model's score on each (absent in older results). */
  prompt_ids?: string[];
  base_scores?: number[];
}

const pct = (r: number | null): string => (r === null ? "–" : `${(100 * r).toFixed(1)}`);

/** Column names of the comparison: each feature's pass rate, overall, share of well-formed answers, mean length. */
const comparisonHeader = (d: DemoResult): string[] => ["model", ...d.features, "overall", "well-formed", "mean chars"];

/** Numbers of the comparison: base and each method's final iteration; pass rates in %, null where none applies. */
export function comparisonValues(d: DemoResult): { name: string; values: (number | null)[] }[] {
  const row = (name: string, s: WorldSummary) => ({
    name,
    values: [
      ...d.features.map((f) => s.features[f as keyof WorldSummary["features"]].rate),
      s.overall,
      s.well_formed ?? null,
    ]
      .map((r) => (r === null ? null : 100 * r))
      .concat(s.mean_chars),
  });
  return [row("base", d.base), ...d.runs.map((r) => row(r.method, r.evals[r.evals.length - 1]))];
}

const fmt = (v: number | null, digits: number): string => (v === null ? "–" : v.toFixed(digits));
const digitsOf = (column: number, columns: number): number => (column === columns - 1 ? 0 : 1); // mean chars: whole

/** Rows: base and each method's final iteration; columns: each feature's pass rate, overall, well-formed, mean length. */
export function comparisonRows(d: DemoResult): string[][] {
  return [
    comparisonHeader(d),
    ...comparisonValues(d).map((r) => [r.name, ...r.values.map((v, c) => fmt(v, digitsOf(c, r.values.length)))]),
  ];
}

/** comparisonRows over several seeds' results: each cell is "mean ± std" (sample std over the seeds). */
export function meanStdRows(results: readonly DemoResult[]): string[][] {
  const tables = results.map(comparisonValues),
    first = tables[0];
  for (const t of tables) {
    if (t.length !== first.length || t.some((r, i) => r.name !== first[i].name))
      throw new Error("meanStdRows: the runs compare different methods");
  }
  return [
    comparisonHeader(results[0]),
    ...first.map((row, i) => [
      row.name,
      ...row.values.map((_, c) => {
        const xs = tables.map((t) => t[i].values[c]).filter((v): v is number => v !== null);
        if (xs.length === 0) return "–";
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        const sd = xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
        const digits = digitsOf(c, row.values.length);
        return `${m.toFixed(digits)} ± ${sd.toFixed(digits)}`;
      }),
    ]),
  ];
}

export function markdownTable(rows: string[][]): string {
  return [rows[0], rows[0].map(() => "---"), ...rows.slice(1)].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** Overall pass rate per method and iteration (iteration 0 = the base model). */
export function iterationRows(d: DemoResult): string[][] {
  const n = Math.max(0, ...d.runs.map((r) => r.evals.length));
  return [
    ["method", ...Array.from({ length: n + 1 }, (_, k) => `iteration ${k}`)],
    ...d.runs.map((r) => [
      r.method,
      pct(d.base.overall),
      ...Array.from({ length: n }, (_, k) => (k < r.evals.length ? pct(r.evals[k].overall) : "–")),
    ]),
  ];
}

/** Per method and iteration: records kept and the checkers' mean pass rate of y+, y- and y° (%). */
export function pairRows(d: DemoResult): string[][] {
  return [
    ["method", "iteration", "records", "y+ pass", "y- pass", "y° pass", "y+ > y-", "y+ > y°", "y+ < y°"],
    ...d.runs.flatMap((r) =>
      (r.pairs ?? []).map((p, k) => [
        r.method,
        String(k + 1),
        String(p.records),
        pct(p.chosen),
        pct(p.rejected),
        pct(p.raw),
        String(p.chosen_above_rejected),
        String(p.chosen_above_raw),
        String(p.chosen_below_raw),
      ]),
    ),
  ];
}

/** Per method: win rate and length-controlled win rate against the base model (% with 95% CI), wins/losses/ties. */
export function versusBaseRows(d: DemoResult): string[][] {
  return [
    ["method", "win rate % [95% CI]", "LC win rate % [95% CI]", "wins", "losses", "ties", "orders disagree"],
    ...d.runs
      .filter((r) => r.vs_base)
      .map((r) => {
        const s = r.vs_base!;
        return [
          r.method,
          rateText(s.win_rate, s.win_rate_ci),
          rateText(s.lc_win_rate, s.lc_win_rate_ci),
          String(s.wins),
          String(s.losses),
          String(s.ties),
          String(s.inconsistent),
        ];
      }),
  ];
}

/** versusBaseRows over several seeds: win rate and LC win rate as mean ± std (sample std) of the seeds' values. */
export function versusBaseMeanStdRows(results: readonly DemoResult[]): string[][] {
  const methods = results[0].runs.map((r) => r.method);
  const cell = (pick: (s: PairwiseSummary) => number | null, method: string) => {
    const xs = results
      .map((d) => d.runs.find((r) => r.method === method)?.vs_base)
      .map((s) => (s ? pick(s) : null))
      .filter((v): v is number => v !== null)
      .map((v) => 100 * v);
    if (xs.length === 0) return "–";
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
    return `${m.toFixed(1)} ± ${sd.toFixed(1)}`;
  };
  return [
    ["method", "win rate %", "LC win rate %"],
    ...methods.map((m) => [m, cell((s) => s.win_rate, m), cell((s) => s.lc_win_rate, m)]),
  ];
}

/**
 * Each method's final score minus `reference`'s (and the base model's), paired per (seed, prompt), in points: the
 * mean with a 95% paired bootstrap interval over seeds × prompts (families.ts pairedDiffRows of all prompts). Needs
 * every seed to have evaluated the same prompts in the same order (the whole held-out pool does).
 */
export function pairedRows(
  results: readonly DemoResult[],
  reference = "sso",
  opts: { samples?: number; seed?: number } = {},
): string[][] {
  return [
    ["method", `minus ${reference} (points)`, "95% CI", "seeds × prompts"],
    ...pairedDiffRows(results, "all", reference, opts),
  ];
}

/** Mean answer length (characters) per method and iteration, mean over the seeds, and its growth from 0 to the end. */
export function lengthRows(results: readonly DemoResult[]): string[][] {
  const n = Math.max(0, ...results[0].runs.map((r) => r.evals.length));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const base = avg(results.map((d) => d.base.mean_chars));
  return [
    ["method", ...Array.from({ length: n + 1 }, (_, k) => `iteration ${k}`), "growth"],
    ...results[0].runs.map((r) => {
      const per = Array.from({ length: n }, (_, k) =>
        avg(results.map((d) => d.runs.find((x) => x.method === r.method)!.evals[k].mean_chars)),
      );
      const growth = per[n - 1] - base;
      return [r.method, ...[base, ...per].map((v) => v.toFixed(1)), `${growth >= 0 ? "+" : ""}${growth.toFixed(1)}`];
    }),
  ];
}

export function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "))
    .join("\n");
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * One line chart, drawn in the browser by the dashboard's chart code (ui/chart.ts, uPlot; `chartScript` inlines
 * it): the page holds the numbers, x = x0, x0+1, … per series.
 */
function chart(title: string, series: { name: string; ys: number[] }[], xLabel: string, x0 = 1): string {
  if (!series.some((s) => s.ys.some(Number.isFinite))) return "";
  const spec = { title, xLabel, x0, series: series.map((s) => ({ name: s.name, ys: s.ys })) };
  return `<figure><div class="sso-chart" data-chart="${esc(JSON.stringify(spec))}"></div></figure>`;
}

/** The chart bundle (tools/build-ui.mjs writes it) inlined as a style and a script, so a report opens offline. */
export function chartScript(): string {
  const dir = join(packageRoot(), "dist", "src", "ui", "public");
  if (!existsSync(join(dir, "report.js")))
    throw new Error(`${join(dir, "report.js")}: the reports' chart bundle is missing (run \`npm run build:ui\`)`);
  const js = readFileSync(join(dir, "report.js"), "utf8").replace(/<\/script/gi, "<\\/script");
  return `<style>${readFileSync(join(dir, "report.css"), "utf8")}</style><script>${js}</script>`;
}

/** The page; `sideBySideHtml` (eval/report.ts's sideBySide of one method against base) is shown when given. */
export function htmlReport(d: DemoResult, title: string, notes: string, sideBySideHtml = ""): string {
  const table = (rows: string[][]) =>
    `<table><tr>${rows[0].map((h) => `<th>${esc(h)}</th>`).join("")}</tr>${rows
      .slice(1)
      .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
      .join("")}</table>`;
  const per = (pick: (s: MethodRun["steps"][number]) => number) =>
    d.runs.map((r) => ({ name: r.method, ys: r.steps.map(pick) }));
  const adherence = d.runs.map((r) => ({
    name: r.method,
    ys: [d.base.overall ?? 0, ...r.evals.map((e) => e.overall ?? 0)],
  }));
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:980px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{display:inline-block;margin:8px}figcaption{font-weight:600}${SIDE_BY_SIDE_CSS}</style>
</head><body><h1>${esc(title)}</h1><p>${esc(notes)}</p><h2>Held-out world evaluation (pass rate %, final iteration)</h2>${table(comparisonRows(d))}
${d.prompt_ids && d.base_scores && d.runs.every((r) => r.scores) ? `<h2>Per prompt family (pass rate %, final iteration; prompts in brackets)</h2>${table(familyRows([d]))}` : ""}
<h2>Against the base model</h2><p>Each held-out prompt's final-iteration answer against the base model's, judged by the world's checkers (the higher mean pass rate wins) with both answer orders; win rate counts ties half; the length-controlled win rate removes the length-difference term of a logistic regression (AlpacaEval 2). 95% bootstrap intervals.</p>${table(versusBaseRows(d))}
${sideBySideHtml ? `<h3>Side by side: ${esc(d.runs[0]?.method ?? "")} vs base on sampled prompts</h3>${sideBySideHtml}` : ""}
<h2>Training</h2>${chart(
    "loss per step",
    per((s) => s.loss),
    "step",
  )}${chart(
    "W (mean) per step",
    per((s) => s.W),
    "step",
  )}${chart(
    "G per step",
    per((s) => s.G),
    "step",
  )}
<h2>Adherence</h2>${chart("overall held-out pass rate per iteration (0 = base)", adherence, "iteration", 0)}
${table(iterationRows(d))}
<h2>Self-steered pairs, judged by the world's checkers</h2><p>The policy labels its own pairs; the checkers were never used in training. y+ / y- / y°: the answers under the good principles, the bad ones and none.</p>${table(pairRows(d))}
${chartScript()}</body></html>
`;
}
