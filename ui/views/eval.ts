// Evaluation: per-iteration tables — an iterate run's iteration summaries (synthesis counts) and evaluations
// (iter-k/eval.json: the world's pass rate, win rate and LC win rate against the initial model with their
// intervals, math accuracy), a demo's held-out pass rates per feature for every method and iteration with the
// judged synthesised pairs, and `sso eval` reports (pairwise: the judged pairs side by side with both orders'
// verdicts; grade: the grades; math: the answers).
import { api, ci, errorBox, fmt, h, pct, select } from "../dom.js";
import type { RunInfo, ServerEvent } from "../types.js";

type Obj = Record<string, unknown>;
const table = (head: string[], rows: unknown[][]) =>
  h(
    "table",
    {},
    h(
      "tr",
      {},
      head.map((c) => h("th", {}, c)),
    ),
    rows.map((r) =>
      h(
        "tr",
        {},
        r.map((c) => h("td", {}, c as string)),
      ),
    ),
  );
const rate = (x: unknown, int: unknown) => `${pct(x)} ${ci(int)}`;

async function iterateTables(r: RunInfo): Promise<HTMLElement[]> {
  const rows: unknown[][] = [],
    evals: unknown[][] = [];
  for (const s of r.stages) {
    const label = `${s.iteration}${s.stage === "generator" ? " (generator)" : ""}`;
    if (s.summary) {
      const sum = await api<Obj>("/api/json", { path: s.summary });
      const synth = (sum.synth ?? {}) as Obj;
      const dropped = Object.entries((synth.dropped ?? {}) as Record<string, number>).filter(([, n]) => n > 0);
      const train = (sum.train ?? {}) as Obj,
        first = (train.first ?? {}) as Obj,
        last = (train.last ?? {}) as Obj;
      rows.push([
        label,
        fmt(synth.prompts),
        fmt(synth.kept),
        dropped.map(([k, n]) => `${k} ${n}`).join(", ") || "none",
        fmt(train.steps),
        `${fmt(first.loss)} → ${fmt(last.loss)}`,
        `${fmt(first["sso/W"])} → ${fmt(last["sso/W"])}`,
        fmt(synth.generated_tokens),
      ]);
    }
    if (s.eval) {
      const e = ((await api<Obj>("/api/json", { path: s.eval })).value ?? {}) as Obj;
      const world = (e.world ?? {}) as Obj,
        vs = (world.vs_initial ?? {}) as Obj,
        math = (e.math ?? {}) as Obj;
      evals.push([
        label,
        pct(world.overall),
        rate(vs.win_rate, vs.win_rate_ci),
        rate(vs.lc_win_rate, vs.lc_win_rate_ci),
        math.accuracy === undefined ? "–" : `${rate(math.accuracy, math.accuracy_ci)} (${math.correct}/${math.n})`,
      ]);
    }
  }
  return [
    h("h2", {}, "Iterations"),
    rows.length
      ? table(
          [
            "iteration",
            "prompts",
            "kept",
            "dropped",
            "train steps",
            "loss first → last",
            "W first → last",
            "generated tokens",
          ],
          rows,
        )
      : h("p", {}, "No iteration finished yet."),
    h("h2", {}, "Evaluation after each iteration"),
    evals.length
      ? table(
          ["iteration", "world pass rate", "win rate vs initial [95% CI]", "LC win rate [95% CI]", "math accuracy"],
          evals,
        )
      : h("p", {}, "This run has no per-iteration evaluation (iterate.eval in its config)."),
  ];
}

function demoTables(d: Obj): HTMLElement[] {
  const features = (d.features ?? []) as string[];
  const head = ["model", "iteration", ...features, "overall", "well-formed", "mean chars"];
  const row = (name: string, it: string, s: Obj) => [
    name,
    it,
    ...features.map((f) => pct(((s.features as Obj)?.[f] as Obj)?.rate)),
    pct(s.overall),
    pct(s.well_formed),
    fmt(s.mean_chars, 0),
  ];
  const runs = (d.runs ?? []) as Obj[];
  const rows = [
    row("base", "–", (d.base ?? {}) as Obj),
    ...runs.flatMap((r) => ((r.evals ?? []) as Obj[]).map((e, i) => row(String(r.method), String(i + 1), e))),
  ];
  const pairs = runs.flatMap((r) =>
    ((r.pairs ?? []) as Obj[]).map((p, i) => [
      String(r.method),
      String(i + 1),
      fmt(p.records),
      pct(p.chosen),
      pct(p.rejected),
      pct(p.raw),
      fmt(p.chosen_above_rejected),
      fmt(p.chosen_above_raw),
      fmt(p.chosen_below_raw),
    ]),
  );
  const vs = runs
    .filter((r) => r.vs_base)
    .map((r) => {
      const v = r.vs_base as Obj;
      return [
        String(r.method),
        rate(v.win_rate, v.win_rate_ci),
        rate(v.lc_win_rate, v.lc_win_rate_ci),
        fmt(v.wins),
        fmt(v.losses),
        fmt(v.ties),
      ];
    });
  return [
    h("h2", {}, "Held-out pass rate per feature"),
    table(head, rows),
    h("h2", {}, "Against the base model (judged by the world's checkers in both orders)"),
    table(["method", "win rate [95% CI]", "LC win rate [95% CI]", "wins", "losses", "ties"], vs),
    h("h2", {}, "Synthesised pairs judged by the world's checkers"),
    table(["method", "iteration", "records", "y+ pass", "y− pass", "y° pass", "y+ > y−", "y+ > y°", "y+ < y°"], pairs),
  ];
}

const verdict = (v: unknown) => (v === null || v === undefined ? "unparsed" : String(v));

function reportTables(d: Obj): HTMLElement[] {
  const summary = (d.summary ?? {}) as Obj;
  const sum = table(Object.keys(summary), [
    Object.entries(summary).map(([k, v]) =>
      ci(v) !== ""
        ? ci(v)
        : typeof v === "number" && /rate|accuracy/.test(k)
          ? pct(v)
          : typeof v === "object"
            ? JSON.stringify(v)
            : fmt(v),
    ),
  ]);
  const out: HTMLElement[] = [h("h2", {}, `${d.mode} report`), sum];
  if (d.mode === "pairwise") {
    const outcomes = (d.outcomes ?? []) as Obj[];
    out.push(
      h("h2", {}, `Judged pairs (${outcomes.length})`),
      h(
        "div",
        { class: "pairs" },
        outcomes
          .slice(0, 200)
          .map((o) =>
            h(
              "div",
              { class: "record pair" },
              h("div", { class: "query" }, h("pre", {}, String(o.instruction ?? ""))),
              h(
                "div",
                { class: "side" },
                h("div", {}, h("h4", {}, String(d.baseline ?? "baseline")), h("pre", {}, String(o.baseline ?? ""))),
                h("div", {}, h("h4", {}, String(d.model ?? "model")), h("pre", {}, String(o.output ?? ""))),
              ),
              h(
                "p",
                { class: "verdict" },
                `verdict, model first: ${verdict(o.model_first)} · baseline first: ${verdict(o.baseline_first)} · preference for the model: ${fmt(o.preference, 2)}`,
              ),
            ),
          ),
      ),
    );
  } else {
    const items = ((d.grades ?? d.results ?? []) as Obj[]).slice(0, 200);
    const keys = [...new Set(items.flatMap((i) => Object.keys(i)))].filter((k) => k !== "replies");
    out.push(
      table(
        keys,
        items.map((i) => keys.map((k) => (typeof i[k] === "object" ? JSON.stringify(i[k]) : String(i[k] ?? "")))),
      ),
    );
  }
  return out;
}

export async function evalView(root: HTMLElement, params: URLSearchParams): Promise<(e: ServerEvent) => void> {
  const { runs } = await api<{ runs: RunInfo[] }>("/api/runs");
  const able = runs.filter((r) => r.kind === "demo" || r.kind === "eval" || r.stages.some((s) => s.eval || s.summary));
  const id = params.get("run") ?? able[0]?.id;
  root.append(h("h1", {}, "Evaluation"));
  const body = h("div", { class: "eval" });
  root.append(
    select(
      "run",
      able.map((r) => ({ value: r.id, label: `${r.id} (${r.kind})` })),
      id ?? null,
      (v) => (location.hash = `#/eval?run=${encodeURIComponent(v)}`),
    ),
    body,
  );
  const r = able.find((x) => x.id === id);
  const fill = async () => {
    if (!r) return body.replaceChildren(h("p", {}, "No run has an evaluation yet."));
    try {
      if (r.files.demo) body.replaceChildren(...demoTables(await api<Obj>("/api/json", { path: r.files.demo })));
      else if (r.files.report)
        body.replaceChildren(...reportTables(await api<Obj>("/api/json", { path: r.files.report })));
      else if (r.files.rmSummary)
        body.replaceChildren(
          h("pre", {}, JSON.stringify((await api<Obj>("/api/json", { path: r.files.rmSummary })).results, null, 2)),
        );
      else body.replaceChildren(...(await iterateTables(r)));
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  };
  await fill();
  return (e) => {
    if (e.type === "runs") void fill();
  };
}
