// Evaluation results for people: the pairwise summary and the grading summary as text, and an HTML page that shows,
// for a seeded sample of prompts, the baseline's and the model's answers side by side with the judge's verdicts in
// both orders. `sideBySide` is also used by the demo's report. Rates print as percentages with their intervals.
import { Rng } from "../tensor/rng.js";
import type { GradeSummary } from "./grade.js";
import type { PairOutcome, PairwiseSummary } from "./pairwise.js";
import type { Interval } from "./stats.js";

/** "62.0 [55.1, 68.9]": a rate in % with its interval; "–" for none. */
export function rateText(value: number | null, ci: Interval | null): string {
  if (value === null) return "–";
  return `${(100 * value).toFixed(1)}${ci ? ` [${(100 * ci.lo).toFixed(1)}, ${(100 * ci.hi).toFixed(1)}]` : ""}`;
}

/** The pairwise summary in a few lines. */
export function pairwiseText(s: PairwiseSummary, model: string, baseline: string): string {
  return [
    `${model} vs ${baseline}: ${s.n} items, ${s.judged} judged in both orders, ${s.unparsed} unparsed`,
    `wins ${s.wins}, losses ${s.losses}, ties ${s.ties}; the two orders disagreed on ${s.inconsistent}`,
    `win rate %        ${rateText(s.win_rate, s.win_rate_ci)}`,
    `LC win rate %     ${rateText(s.lc_win_rate, s.lc_win_rate_ci)}`,
    `mean length: ${s.mean_chars?.toFixed(1) ?? "–"} chars (baseline ${s.baseline_mean_chars?.toFixed(1) ?? "–"})`,
  ].join("\n");
}

/** The grading summary: overall, per category, per turn. */
export function gradeText(s: GradeSummary): string {
  const row = (name: string, g: { n: number; mean: number | null }) =>
    `${name.padEnd(16)}${(g.mean === null ? "–" : g.mean.toFixed(2)).padStart(7)}${String(g.n).padStart(6)}`;
  const ci = s.mean_ci ? ` [${s.mean_ci.lo.toFixed(2)}, ${s.mean_ci.hi.toFixed(2)}]` : "";
  return [
    `${"category".padEnd(16)}${"score".padStart(7)}${"n".padStart(6)}`,
    ...Object.entries(s.categories).map(([k, g]) => row(k, g)),
    ...Object.entries(s.turns).map(([k, g]) => row(`turn ${k}`, g)),
    `overall ${s.mean === null ? "–" : s.mean.toFixed(2)}${ci} over ${s.grades - s.unparsed} grades, ${s.unparsed} unparsed`,
  ].join("\n");
}

export const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Indices of a seeded sample of `count` of n items, in order; items for which `preferred` holds are taken first. */
export function sampleIndices(
  n: number,
  count: number,
  seed: number,
  preferred: (i: number) => boolean = () => true,
): number[] {
  const shuffled = new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  return [...shuffled.filter(preferred), ...shuffled.filter((i) => !preferred(i))]
    .slice(0, Math.min(count, n))
    .sort((a, b) => a - b);
}

const verdictText = (o: PairOutcome): string => {
  const one = (v: string | null, modelFirst: boolean) =>
    v === null ? "unparsed" : v === "tie" ? "tie" : (v === "A") === modelFirst ? "model" : "baseline";
  const pref =
    o.preference === null
      ? "unparsed"
      : o.preference > 0.5
        ? "model wins"
        : o.preference < 0.5
          ? "baseline wins"
          : "tie";
  return `<b>${pref}</b><br>model shown first: ${one(o.model_first, true)}<br>baseline shown first: ${one(o.baseline_first, false)}`;
};

/** An HTML table of sampled prompts (those whose two answers differ first): both answers side by side and the verdicts. */
export function sideBySide(
  outcomes: readonly PairOutcome[],
  names: { model: string; baseline: string },
  count = 10,
  seed = 0,
): string {
  const rows = sampleIndices(outcomes.length, count, seed, (i) => outcomes[i].output !== outcomes[i].baseline).map(
    (i) => {
      const o = outcomes[i];
      return `<tr><td>${esc(o.instruction)}</td><td><pre>${esc(o.baseline)}</pre></td><td><pre>${esc(o.output)}</pre></td><td>${verdictText(o)}</td></tr>`;
    },
  );
  return `<table class="sbs"><tr><th>prompt</th><th>${esc(names.baseline)}</th><th>${esc(names.model)}</th><th>verdict</th></tr>${rows.join("")}</table>`;
}

export const SIDE_BY_SIDE_CSS =
  "table.sbs td{text-align:left;vertical-align:top;max-width:320px}table.sbs pre{white-space:pre-wrap;margin:0;font-family:inherit}";

/** A standalone page: the summary and the side-by-side sample. */
export function pairwiseHtml(
  s: PairwiseSummary,
  outcomes: readonly PairOutcome[],
  names: { model: string; baseline: string; judge: string },
  count = 10,
  seed = 0,
): string {
  const title = `${names.model} vs ${names.baseline}`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}${SIDE_BY_SIDE_CSS}</style>
</head><body><h1>${esc(title)}</h1><p>judge: ${esc(names.judge)}</p><pre>${esc(pairwiseText(s, names.model, names.baseline))}</pre>
<h2>Side by side (${Math.min(count, outcomes.length)} sampled prompts)</h2>${sideBySide(outcomes, names, count, seed)}
</body></html>
`;
}
