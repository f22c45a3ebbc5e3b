// The RM experiment's HTML page: the accuracy table, a bar chart of mean held-out accuracy with ±std whiskers per
// RM, and the training sets' label quality; and the per-seed result it renders. Pure strings; rm-experiment.ts
// writes the file.
import { mean, sampleStd } from "../eval/stats.js";

export interface SeedResult {
  seed: number;
  /** Pairs per data set, and the share whose chosen answer the checkers rate higher (label accuracy). */
  sets: Record<string, { pairs: number; checker_agreement: number | null }>;
  /** Held-out accuracy per RM. */
  accuracy: Record<string, number>;
  heldout_pairs: number;
  /** Seconds per part. */
  seconds: Record<string, number>;
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const table = (rows: string[][]) =>
  `<table><tr>${rows[0].map((h) => `<th>${esc(h)}</th>`).join("")}</tr>${rows
    .slice(1)
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</table>`;

/** Bars of mean accuracy (%, axis 50–100: chance is 50) with ±std whiskers. */
function barChart(results: readonly SeedResult[]): string {
  const names = Object.keys(results[0]?.accuracy ?? {});
  const W = 480,
    H = 240,
    pad = 40,
    bw = (W - 2 * pad) / Math.max(1, names.length);
  const y = (pct: number) => H - pad - ((H - 2 * pad) * (Math.min(100, Math.max(50, pct)) - 50)) / 50;
  const bars = names.map((n, i) => {
    const xs = results.map((r) => 100 * r.accuracy[n]),
      m = mean(xs),
      sd = sampleStd(xs),
      x = pad + i * bw + bw * 0.2;
    return `<rect x="${x.toFixed(1)}" y="${y(m).toFixed(1)}" width="${(bw * 0.6).toFixed(1)}" height="${(H - pad - y(m)).toFixed(1)}" fill="#1f77b4"/>
<line x1="${(x + bw * 0.3).toFixed(1)}" x2="${(x + bw * 0.3).toFixed(1)}" y1="${y(m - sd).toFixed(1)}" y2="${y(m + sd).toFixed(1)}" stroke="#000"/>
<text x="${(x + bw * 0.3).toFixed(1)}" y="${H - pad + 14}" font-size="11" text-anchor="middle">${esc(n)}</text>
<text x="${(x + bw * 0.3).toFixed(1)}" y="${(y(m) - 4).toFixed(1)}" font-size="11" text-anchor="middle">${m.toFixed(1)}</text>`;
  });
  return `<figure><figcaption>held-out pairwise accuracy %, mean ± std over seeds (axis from chance, 50)</figcaption><svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${pad}" x2="${W - pad}" y1="${H - pad}" y2="${H - pad}" stroke="#ccc"/><text x="4" y="${y(100) + 4}" font-size="11">100</text><text x="4" y="${H - pad}" font-size="11">50</text>${bars.join("")}</svg></figure>`;
}

export function rmExperimentHtml(
  results: readonly SeedResult[],
  notes: string,
  acc: string[][],
  sets: string[][],
): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>sso rm demo</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:980px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figcaption{font-weight:600}</style>
</head><body><h1>Reward models from SSO data, in the principle world</h1><p>${esc(notes)}</p>
<h2>Held-out checker-labelled pairs</h2>${table(acc)}${barChart(results)}
<h2>Training sets</h2><p>Label quality as the world's checkers see it (never used to train the SSO set).</p>${table(sets)}
</body></html>
`;
}
