// Curves: every metric the trainers log (src/train/metrics.ts: one JSON line per optimizer step) against step,
// runs overlaid (an iterate run's iterations one after another, so x is the run's global step), smoothing, zoom.
// Metrics files are read in pages from a byte offset and appended to when the server says they grew.
import { aligned, LineChart, type Series } from "../chart.js";
import { api, errorBox, h, route, setParams } from "../dom.js";
import type { Page, RunInfo, ServerEvent } from "../types.js";

interface Source {
  run: string;
  path: string;
  /** Steps of the run's earlier stages, added to this file's steps. */
  base: number;
  offset: number;
  x: number[];
  rows: Record<string, unknown>[];
}

export async function curvesView(root: HTMLElement, params: URLSearchParams): Promise<(e: ServerEvent) => void> {
  const { runs } = await api<{ runs: RunInfo[] }>("/api/runs");
  const withMetrics = runs.filter((r) => r.stages.some((s) => s.metrics));
  let chosen = params.getAll("run").filter((id) => withMetrics.some((r) => r.id === id));
  if (chosen.length === 0) chosen = withMetrics.slice(0, 2).map((r) => r.id);
  let w = Number(params.get("smooth") ?? "0");
  const save = () => {
    const p = new URLSearchParams();
    for (const c of chosen) p.append("run", c);
    p.set("smooth", String(w));
    setParams(route().view, p);
  };
  const grid = h("div", { class: "charts" });
  const charts = new Map<string, LineChart>();
  let sources: Source[] = [];

  const pick = h(
    "fieldset",
    { class: "pick" },
    h("legend", {}, "runs"),
    withMetrics.map((r) =>
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          name: "run",
          value: r.id,
          checked: chosen.includes(r.id),
          onchange: (ev: Event) => {
            const on = (ev.target as HTMLInputElement).checked;
            chosen = on ? [...chosen, r.id] : chosen.filter((c) => c !== r.id);
            save();
            void load();
          },
        }),
        r.id,
      ),
    ),
  );
  const slider = h("input", {
    type: "range",
    name: "smooth",
    min: 0,
    max: 0.99,
    step: 0.01,
    value: w,
    oninput: () => {
      w = Number(slider.value);
      save();
      draw();
    },
  });
  root.append(
    h("h1", {}, "Curves"),
    withMetrics.length === 0
      ? h("p", {}, "No run has a metrics log yet.")
      : h("div", { class: "controls" }, pick, h("label", { class: "smooth" }, "smoothing ", slider)),
    h("p", { class: "hint" }, "Drag across a chart to zoom in, double-click to zoom out."),
    grid,
  );

  async function readMore(s: Source): Promise<boolean> {
    let grew = false;
    for (;;) {
      // A small first page, so that a long log's charts appear at once; then large pages.
      const limit = s.offset === 0 ? 2000 : 20000;
      const page = await api<Page>("/api/lines", { path: s.path, offset: s.offset, limit });
      for (const l of page.lines) {
        if (!l.value || typeof l.value.step !== "number") continue;
        s.x.push(s.base + l.value.step);
        s.rows.push(l.value);
      }
      grew ||= page.lines.length > 0;
      if (page.next === s.offset || page.next >= page.size) {
        s.offset = page.next;
        return grew;
      }
      s.offset = page.next;
      draw(); // large logs: show each page as it arrives
    }
  }

  async function load() {
    sources = [];
    for (const id of chosen) {
      const r = withMetrics.find((x) => x.id === id)!;
      let base = 0;
      for (const st of r.stages) {
        if (!st.metrics) continue;
        const s: Source = { run: id, path: st.metrics, base, offset: 0, x: [], rows: [] };
        sources.push(s);
        try {
          await readMore(s);
        } catch (e) {
          grid.append(errorBox(e));
        }
        base = s.x.length > 0 ? s.x[s.x.length - 1] : base;
      }
    }
    for (const c of charts.values()) c.destroy();
    charts.clear();
    grid.replaceChildren();
    draw();
  }

  function draw() {
    const keys = new Set<string>();
    for (const s of sources)
      for (const row of s.rows.slice(-50))
        for (const [k, v] of Object.entries(row)) if (typeof v === "number" && k !== "step") keys.add(k);
    for (const key of keys) {
      const series: Series[] = chosen.map((id) => {
        const mine = sources.filter((s) => s.run === id);
        return {
          label: id,
          x: mine.flatMap((s) => s.x),
          y: mine.flatMap((s) => s.rows.map((r) => (typeof r[key] === "number" ? (r[key] as number) : null))),
        };
      });
      const data = aligned(series, w);
      let chart = charts.get(key);
      if (chart) chart.update(data);
      else {
        const el = h("div", { class: "chart", "data-metric": key });
        grid.append(el);
        chart = new LineChart(
          el,
          key,
          series.map((s) => s.label),
          data,
        );
        charts.set(key, chart);
      }
      // The step count drawn, for people (the title) and for the browser test (live appends).
      const box = chart.plot.root.parentElement!;
      box.dataset.points = String(data[0].length);
      box.title = `${data[0].length} steps`;
    }
  }

  await load();
  return (e) => {
    const s = sources.find((x) => x.path === e.path);
    if (e.type === "file" && s) void readMore(s).then((grew) => grew && draw());
    else if (e.type === "runs") {
      // A new stage (the next iteration's training) of a run on screen: reload to place it after the last one.
      void api<{ runs: RunInfo[] }>("/api/runs").then(({ runs: now }) => {
        const known = new Set(sources.map((x) => x.path));
        if (now.some((r) => chosen.includes(r.id) && r.stages.some((st) => st.metrics && !known.has(st.metrics)))) {
          withMetrics.splice(0, withMetrics.length, ...now.filter((r) => r.stages.some((st) => st.metrics)));
          void load();
        }
      });
    }
  };
}
