// The dashboard's entry point: the router (#/runs, #/curves, #/records, #/eval, #/compare — each view a URL that
// can be linked and reloaded), and one server-sent event stream whose events go to the view on screen.
import { errorBox, route } from "./dom.js";
import type { ServerEvent, View } from "./types.js";
import { compareView } from "./views/compare.js";
import { curvesView } from "./views/curves.js";
import { evalView } from "./views/eval.js";
import { recordsView } from "./views/records.js";
import { runsView } from "./views/runs.js";

const VIEWS: Record<string, View> = {
  runs: runsView,
  curves: curvesView,
  records: recordsView,
  eval: evalView,
  compare: compareView,
};

let onEvent: ((e: ServerEvent) => void) | undefined;
let rendering = 0;

async function render(): Promise<void> {
  const { view, params } = route();
  const mine = ++rendering;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a"))
    a.classList.toggle("active", a.dataset.view === view);
  const root = document.getElementById("view")!;
  root.replaceChildren();
  root.dataset.view = view;
  onEvent = undefined;
  try {
    const handler = await (VIEWS[view] ?? runsView)(root, params);
    if (mine === rendering) onEvent = handler;
  } catch (e) {
    root.append(errorBox(e));
  }
  root.dataset.ready = "1";
}

function connect(): void {
  const live = document.getElementById("live")!;
  const es = new EventSource("/api/events");
  es.onopen = () => {
    live.textContent = "● live";
    live.className = "on";
  };
  es.onerror = () => {
    live.textContent = "○ reconnecting";
    live.className = "";
  };
  es.onmessage = (m) => {
    const e = JSON.parse(m.data) as ServerEvent;
    onEvent?.(e);
  };
}

window.addEventListener("hashchange", () => void render());
void render();
connect();
