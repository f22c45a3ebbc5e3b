// Compare: two runs' answers to the same prompts side by side — the records of one iteration of run A joined by
// prompt id with those of run B (the server's id index), showing each policy's own answer y° (plain prompt) and
// its steered y+, with token counts.
import { api, errorBox, fmt, h, route, select, setParams } from "../dom.js";
import type { PageLine, RunInfo, ServerEvent } from "../types.js";
import { type Rec, recordFiles, text } from "./records.js";

export async function compareView(root: HTMLElement, params: URLSearchParams): Promise<(e: ServerEvent) => void> {
  const { runs } = await api<{ runs: RunInfo[] }>("/api/runs");
  const files = recordFiles(runs);
  const lastOf = (run: string | undefined) => [...files].reverse().find((f) => f.run === run)?.value;
  const runIds = [...new Set(files.map((f) => f.run))];
  let a = params.get("a") ?? lastOf(runIds[0]) ?? null,
    b = params.get("b") ?? lastOf(runIds[1] ?? runIds[0]) ?? null;
  const body = h("div", { class: "compare" }),
    more = h("button", { type: "button", onclick: () => void load(false) }, "more");
  let next = 0;
  root.append(
    h("h1", {}, "Compare"),
    h(
      "div",
      { class: "filters" },
      "A ",
      select("a", files, a, (v) => {
        a = v;
        void load(true);
      }),
      " B ",
      select("b", files, b, (v) => {
        b = v;
        void load(true);
      }),
    ),
    body,
    more,
  );
  if (!a || !b) {
    body.append(h("p", {}, "Compare needs runs with synthesis records."));
    return () => {};
  }
  const col = (name: string, r: Rec | null) =>
    h(
      "div",
      { class: "answer" },
      h("h4", {}, name),
      r === null
        ? h("p", { class: "missing" }, "no record for this prompt")
        : [
            h("h5", {}, `y° (own answer) · ${fmt(r.raw_n_tokens)} tokens`),
            h("pre", { class: "raw" }, text(r.raw)),
            h("h5", {}, `y+ (steered) · ${fmt(r.chosen_n_tokens)} tokens`),
            h("pre", {}, text(r.chosen)),
          ],
    );

  async function load(fresh: boolean) {
    if (fresh) {
      next = 0;
      setParams(route().view, new URLSearchParams({ a: a!, b: b! }));
    }
    try {
      const p = await api<{ pairs: { a: PageLine; b: Rec | null }[]; next: number; size: number }>("/api/compare", {
        a: a!,
        b: b!,
        offset: next,
        limit: 20,
      });
      if (fresh) body.replaceChildren();
      for (const pair of p.pairs) {
        const ra = pair.a.value as Rec | undefined;
        if (!ra) continue;
        body.append(
          h(
            "div",
            { class: "record pair", "data-id": String(ra.id) },
            h("div", { class: "query" }, h("strong", {}, String(ra.id)), h("pre", {}, text(ra.prompt))),
            h("div", { class: "side" }, col(`A: ${a}`, ra), col(`B: ${b}`, pair.b)),
          ),
        );
      }
      next = p.next;
      more.hidden = p.next >= p.size;
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }
  await load(true);
  return () => {};
}
