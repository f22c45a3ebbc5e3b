// Runs: every run under the root with its status (running / finished / failed), last update, where it is
// (iteration and stage), progress with an ETA from the progress seen since the page opened, and throughput.
import { ago, api, errorBox, fmt, h } from "../dom.js";
import type { RunInfo, ServerEvent } from "../types.js";

const firstSeen = new Map<string, { t: number; p: number }>();

function eta(r: RunInfo): string {
  if (r.status !== "running" || r.progress === null) return "–";
  const s = firstSeen.get(r.id);
  if (!s) {
    firstSeen.set(r.id, { t: Date.now(), p: r.progress });
    return "–";
  }
  const rate = (r.progress - s.p) / (Date.now() - s.t);
  if (rate <= 0) return "–";
  const sec = (1 - r.progress) / rate / 1000;
  return sec < 90
    ? `${Math.round(sec)} s`
    : sec < 5400
      ? `${Math.round(sec / 60)} min`
      : `${(sec / 3600).toFixed(1)} h`;
}

export function runLinks(r: RunInfo): HTMLElement {
  const q = encodeURIComponent(r.id);
  return h(
    "span",
    { class: "links" },
    r.stages.some((s) => s.metrics) && h("a", { href: `#/curves?run=${q}` }, "curves"),
    r.stages.some((s) => s.data) && h("a", { href: `#/records?run=${q}` }, "records"),
    (r.kind === "demo" || r.kind === "eval" || r.stages.some((s) => s.eval || s.summary)) &&
      h("a", { href: `#/eval?run=${q}` }, "evaluation"),
  );
}

export async function runsView(root: HTMLElement): Promise<(e: ServerEvent) => void> {
  const table = h("table", { class: "runs" });
  const fill = async () => {
    try {
      const { runs, root: dir } = await api<{ runs: RunInfo[]; root: string }>("/api/runs");
      table.replaceChildren(
        h("caption", {}, `${runs.length} runs under ${dir}`),
        h(
          "tr",
          {},
          ["run", "kind", "status", "last update", "where", "progress", "ETA", "tokens/s", ""].map((c) =>
            h("th", {}, c),
          ),
        ),
        ...runs.map((r) =>
          h(
            "tr",
            { "data-run": r.id },
            h(
              "td",
              {},
              r.parent ? h("span", { class: "child" }, "↳ ", r.id) : r.id === "." ? "(the runs folder)" : r.id,
            ),
            h("td", {}, r.kind),
            h(
              "td",
              {},
              h(
                "span",
                {
                  class: `status ${r.status}`,
                  title:
                    r.status === "failed" ? "not finished, and nothing written for 2 minutes: crashed or stopped" : "",
                },
                r.status,
              ),
            ),
            h("td", { title: new Date(r.updated).toISOString() }, ago(r.updated)),
            h("td", {}, r.where),
            h(
              "td",
              {},
              r.progress === null ? "–" : h("progress", { max: 1, value: r.progress }),
              r.progress === null ? "" : ` ${Math.round(100 * r.progress)}%`,
            ),
            h("td", {}, eta(r)),
            h("td", {}, fmt(r.tokensPerSec, 0)),
            h("td", {}, runLinks(r)),
          ),
        ),
      );
    } catch (e) {
      table.replaceChildren(errorBox(e));
    }
  };
  let pending: ReturnType<typeof setTimeout> | undefined;
  await fill();
  root.append(h("h1", {}, "Runs"), table);
  const timer = setInterval(() => (document.body.contains(table) ? void fill() : clearInterval(timer)), 5000);
  return (e) => {
    // A run writing every step sends many events: refresh at most once a second.
    if ((e.type === "runs" || e.type === "file") && !pending)
      pending = setTimeout(() => {
        pending = undefined;
        void fill();
      }, 1000);
  };
}
