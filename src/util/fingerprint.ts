// Comparing the fingerprints that resumable outputs keep (a JSON object of everything their contents depend on):
// the first differing key, so a refused resume can say what changed. Used by synthesis, generation and scoring.

/** Dotted paths of the leaves of a JSON value, with their JSON text. */
function leaves(v: unknown, at = "", out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === "object" && !Array.isArray(v))
    for (const [k, x] of Object.entries(v)) leaves(x, at ? `${at}.${k}` : k, out);
  else out.set(at, JSON.stringify(v));
  return out;
}

/** The first key whose value differs between two fingerprints, described, or undefined when they are equal. */
export function fingerprintDifference(was: Record<string, unknown>, now: Record<string, unknown>): string | undefined {
  const a = leaves(was),
    b = leaves(now);
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(key) !== b.get(key)) return `${key} was ${a.get(key) ?? "unset"}, now ${b.get(key) ?? "unset"}`;
  }
  return undefined;
}
