// Records: the synthesis records (src/sso/record.ts) of one iteration of a run, filtered on the server while it
// pages through the file (text search, feature, W₀, y+ length), each shown as the query, its features and where
// their principles came from, x+ / x− side by side, and y+ / y− / y° side by side with token counts and mean
// reference log-probs. The file holds the kept records; the dropped ones are counts by reason (the progress
// sidecar), shown above. New records appear as the writer appends them.
import { api, errorBox, fmt, h, route, select, setParams } from "../dom.js";
import type { Page, PageLine, RunInfo, ServerEvent } from "../types.js";

export type Rec = Record<string, unknown>;
/** The last turn's text of a chat prompt or answer. */
export const text = (turns: unknown): string =>
  Array.isArray(turns) ? String((turns[turns.length - 1] as { content?: unknown })?.content ?? "") : "";

/** Every run's record files (one per iteration and stage), labelled for a picker; also the compare view's. */
export const recordFiles = (runs: RunInfo[]) =>
  runs.flatMap((r) =>
    r.stages
      .filter((s) => s.data)
      .map((s) => ({
        value: s.data!,
        label: `${r.id} · iteration ${s.iteration}${s.stage === "generator" ? " (generator)" : ""}`,
        run: r.id,
      })),
  );
const meanLp = (r: Rec, col: string, n: string): string =>
  typeof r[col] === "number" && typeof r[n] === "number" ? fmt((r[col] as number) / (r[n] as number)) : "–";

const FILTERS = ["q", "feature", "wmin", "wmax", "lenmin", "lenmax"] as const;

export function recordCard(line: PageLine): HTMLElement {
  if (!line.value || typeof line.value !== "object")
    return h(
      "div",
      { class: "record malformed" },
      h("strong", {}, `line at byte ${line.offset}: ${line.error ?? "not a record"}`),
      h("pre", {}, line.raw ?? ""),
    );
  const r = line.value as Rec;
  const features = Array.isArray(r.features) ? (r.features as string[]) : [];
  const sources = Array.isArray(r.principle_sources) ? (r.principle_sources as string[]) : [];
  const answer = (label: string, key: string, n: string, cols: [string, string][]) =>
    h(
      "div",
      { class: `answer ${key}` },
      h(
        "h4",
        {},
        label,
        h(
          "small",
          {},
          ` ${fmt(r[n])} tokens`,
          cols.map(([c, l]) => ` · mean logp|${l} ${meanLp(r, c, n)}`),
        ),
      ),
      h("pre", {}, text(r[key])),
    );
  return h(
    "div",
    { class: "record", "data-id": String(r.id) },
    h(
      "div",
      { class: "meta" },
      h("strong", {}, String(r.id)),
      ` · W₀ ${fmt(r.w0)} · `,
      features.map((f, i) =>
        h("span", { class: `feature ${sources[i] ?? ""}`, title: `principle from the ${sources[i] ?? "?"}` }, f),
      ),
    ),
    h("div", { class: "query" }, h("h4", {}, "query"), h("pre", {}, text(r.prompt))),
    h(
      "div",
      { class: "side" },
      h("div", {}, h("h4", {}, "x+ (system)"), h("pre", {}, String(r.system_pos ?? ""))),
      h("div", {}, h("h4", {}, "x− (system)"), h("pre", {}, String(r.system_neg ?? ""))),
    ),
    h(
      "div",
      { class: "side three" },
      answer("y+", "chosen", "chosen_n_tokens", [
        ["ref_chosen_logps", "x"],
        ["ref_pos_chosen_logps", "x+"],
      ]),
      answer("y−", "rejected", "rejected_n_tokens", [
        ["ref_rejected_logps", "x"],
        ["ref_neg_rejected_logps", "x−"],
      ]),
      answer("y°", "raw", "raw_n_tokens", [["ref_neg_raw_logps", "x−"]]),
    ),
  );
}

export async function recordsView(root: HTMLElement, params: URLSearchParams): Promise<(e: ServerEvent) => void> {
  const { runs } = await api<{ runs: RunInfo[] }>("/api/runs");
  const files = recordFiles(runs);
  const run = params.get("run");
  let path =
    params.get("path") ??
    [...files].reverse().find((f) => f.run === run)?.value ??
    files[files.length - 1]?.value ??
    null;
  root.append(h("h1", {}, "Records"));
  if (!path) {
    root.append(h("p", {}, "No run has synthesis records yet."));
    return () => {};
  }
  const list = h("div", { class: "records" }),
    status = h("p", { class: "status-line" }),
    dropped = h("p", { class: "dropped" }),
    more = h("button", { type: "button", onclick: () => void page(false) }, "more");
  let next = 0,
    atEnd = false,
    shown = 0,
    generation = 0;
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void restart();
      },
    },
    select("path", files, path, (v) => {
      path = v;
      void restart();
    }),
    h("input", { name: "q", type: "search", placeholder: "search text", value: params.get("q") ?? "" }),
    h("input", { name: "feature", placeholder: "feature", value: params.get("feature") ?? "", list: "features" }),
    h("datalist", { id: "features" }),
    h(
      "label",
      {},
      "W₀ ",
      h("input", { name: "wmin", type: "number", step: "0.01", placeholder: "min", value: params.get("wmin") ?? "" }),
      h("input", { name: "wmax", type: "number", step: "0.01", placeholder: "max", value: params.get("wmax") ?? "" }),
    ),
    h(
      "label",
      {},
      "y+ tokens ",
      h("input", { name: "lenmin", type: "number", placeholder: "min", value: params.get("lenmin") ?? "" }),
      h("input", { name: "lenmax", type: "number", placeholder: "max", value: params.get("lenmax") ?? "" }),
    ),
    h("button", { type: "submit" }, "filter"),
  );
  root.append(form, dropped, status, list, more);

  const filters = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const k of FILTERS) out[k] = (form.elements.namedItem(k) as HTMLInputElement).value;
    return out;
  };

  /** Up to 50 more matching records: a filter that matches rarely goes on through the file, 16 MiB per request. */
  async function page(fresh: boolean): Promise<void> {
    const mine = ++generation;
    try {
      let got = 0;
      do {
        const p = await api<Page>("/api/records", { path: path!, offset: next, limit: 50 - got, ...filters() });
        if (mine !== generation) return; // a newer filter started
        if (fresh && got === 0) list.replaceChildren();
        for (const l of p.lines) list.append(recordCard(l));
        got += p.lines.length;
        shown += p.lines.length;
        atEnd = p.next >= p.size || p.next === next;
        next = p.next;
        status.textContent = `${shown} records shown${atEnd ? " (end of file)" : `, read to byte ${p.next} of ${p.size}`}`;
      } while (got < 50 && !atEnd);
      more.hidden = atEnd;
    } catch (e) {
      list.replaceChildren(errorBox(e));
    }
  }

  async function restart(): Promise<void> {
    const p = new URLSearchParams({ path: path! });
    for (const [k, v] of Object.entries(filters())) if (v) p.set(k, v);
    setParams(route().view, p);
    next = 0;
    shown = 0;
    await page(true);
    try {
      const prog = await api<Record<string, unknown>>("/api/json", { path: `${path}.progress.json` });
      const counts = (prog.counts ?? {}) as {
        dropped?: Record<string, number>;
        features_selected?: Record<string, number>;
      };
      const d = Object.entries(counts.dropped ?? {}).filter(([, n]) => n > 0);
      dropped.textContent = `dropped by the filters: ${d.length === 0 ? "none" : d.map(([k, n]) => `${k} ${n}`).join(", ")} · ${prog.phase === "done" ? "synthesis done" : `synthesis at prompt ${prog.next_index}`}`;
      document
        .getElementById("features")!
        .replaceChildren(...Object.keys(counts.features_selected ?? {}).map((f) => h("option", { value: f })));
    } catch {
      dropped.textContent = "";
    }
  }

  await restart();
  return (e) => {
    if (e.type === "file" && (e.path === path || e.path === `${path}.progress.json`) && atEnd) void page(false);
  };
}
