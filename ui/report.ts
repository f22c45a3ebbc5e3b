// The static reports' charts (`sso demo`'s report.html): each <div class="sso-chart" data-chart="{…}"> becomes a
// line chart drawn by the dashboard's own chart code (chart.ts, uPlot). src/demo/report.ts inlines this bundle
// into the page, so a report opens offline, straight from disk.
import { aligned, LineChart } from "./chart.js";

interface Spec {
  title: string;
  xLabel: string;
  x0: number;
  series: { name: string; ys: (number | null)[] }[];
}

for (const el of document.querySelectorAll<HTMLElement>(".sso-chart")) {
  const spec = JSON.parse(el.dataset.chart ?? "{}") as Spec;
  const series = spec.series.map((s) => ({ label: s.name, x: s.ys.map((_, i) => spec.x0 + i), y: s.ys }));
  new LineChart(
    el,
    spec.title,
    series.map((s) => s.label),
    aligned(series, 0),
    420,
    spec.xLabel,
  );
}
