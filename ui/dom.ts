// The client's small helpers: building elements, the server's JSON API, the view's URL state (#/view?key=value),
// and number formats. No framework: each view is a function that fills a container and returns its event handler.
export type Child = Node | string | number | null | undefined | false | Child[];

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "value" && "value" in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

export async function api<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const res = await fetch(`${path}?${q}`);
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error ?? `${path}: HTTP ${res.status}`);
  return body as T;
}

/** The view's state in the URL: #/view?key=value&key=value. */
export function route(): { view: string; params: URLSearchParams } {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { view: path || "runs", params: new URLSearchParams(query) };
}

/** Replaces the URL's parameters (no new history entry, no re-render). */
export function setParams(view: string, params: URLSearchParams): void {
  history.replaceState(null, "", `#/${view}?${params}`);
}

export const fmt = (x: unknown, digits = 3): string =>
  typeof x === "number" && Number.isFinite(x) ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : "–";
export const pct = (x: unknown): string => (typeof x === "number" ? `${(100 * x).toFixed(1)}%` : "–");
/** A 95% interval as our reports write it ({lo, hi}) or as a pair; "" for anything else. */
export function ci(x: unknown): string {
  const [lo, hi] = Array.isArray(x) ? x : [(x as { lo?: unknown })?.lo, (x as { hi?: unknown })?.hi];
  return typeof lo === "number" && typeof hi === "number" ? `[${pct(lo)}, ${pct(hi)}]` : "";
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

/** A <select> of options; `value` preselected. */
export function select(
  name: string,
  options: { value: string; label: string }[],
  value: string | null,
  onchange: (v: string) => void,
): HTMLSelectElement {
  const s = h(
    "select",
    { name, onchange: () => onchange(s.value) },
    options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)),
  );
  return s;
}

export const errorBox = (e: unknown): HTMLElement => h("p", { class: "error" }, String((e as Error)?.message ?? e));
