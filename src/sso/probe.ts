// The probe that proves a server holds the policy `sso iterate` means it to (iterate.server): a few fixed prompt +
// response token-id lists, their log-probs computed here in TypeScript from the saved model folder (so they are
// the weights on disk, whichever trainer wrote them), and the log-probs of the model before it where known. For a
// trained model X/train/model the items are the first records it was trained on (X/data.jsonl: prompt + chosen
// answer, tokenised as synthesis scored them) and the earlier ones are those records' own reference log-probs
// (their writer's); for the initial model they are the first prompts with the next prompt's text as the answer.
// Written once to X/train/probe.json (OUT/probe-initial.json), then reused. Not here: asking the server (the
// remote engine's score) and when to probe (iterate-server.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { getBackend } from "../backends/index.js";
import { loadModel } from "../model/folder.js";
import { type ScoreItem, scoreItems } from "../model/score.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJson } from "../util/files.js";
import { readJsonl } from "../util/jsonl.js";
import { readPrompts } from "./input.js";
import { SsoRecord } from "./record.js";
import { recordSequences } from "./train.js";

export interface Probe {
  /** The model folder (and adapter) the log-probs are of. */
  model: string;
  adapter?: string;
  items: { prompt_ids: number[]; response_ids: number[] }[];
  /** Σ log p(response | prompt) per item, and the response lengths. */
  logps: number[];
  n_tokens: number[];
  /** The same sums under the model before this one (the records' writer), when known. */
  previous?: number[];
}

export interface ProbeSource {
  /** The model to probe (a trained model is X/train/model). */
  model: string;
  /** Serve this LoRA adapter over `model` instead of the folder alone (hot-swapped LoRA). */
  adapter?: string;
  /** The initial model of the run: probed on the prompts. */
  initial: string;
  prompts: string;
  out: string;
  count: number;
  backend: string;
}

/** Where a model's probe lives: next to the training output that saved it, or OUT/probe-initial.json. */
export function probePath(src: ProbeSource): string {
  if (src.model === src.initial) return join(src.out, "probe-initial.json");
  return join(dirname(src.model), src.adapter ? "probe-adapter.json" : "probe.json");
}

/** The model's probe: read back when it was computed before, else computed from the saved folder and written. */
export function modelProbe(src: ProbeSource): Probe {
  const path = probePath(src);
  if (existsSync(path)) {
    const p = readJson(path) as Probe;
    if (p.model === src.model && p.adapter === src.adapter && p.items.length > 0) return p;
  }
  const tok = Tokenizer.fromDir(src.model);
  const { items, previous } = probeItems(src, tok);
  const model = loadModel(
    src.initial === src.model || !src.adapter ? src.model : src.initial,
    getBackend(src.backend),
    {
      keep16: true,
      ...(src.adapter && { adapter: src.adapter }),
    },
  );
  const scored = scoreItems(
    model,
    items.map((it) => ({ promptIds: it.prompt_ids, responseIds: it.response_ids })),
  );
  const probe: Probe = {
    model: src.model,
    ...(src.adapter && { adapter: src.adapter }),
    items,
    logps: scored.map((r) => r.logp),
    n_tokens: scored.map((r) => r.n_tokens),
    ...(previous && { previous }),
  };
  writeFileAtomic(path, `${JSON.stringify(probe)}\n`);
  return probe;
}

function probeItems(src: ProbeSource, tok: Tokenizer): { items: Probe["items"]; previous?: number[] } {
  const data = join(dirname(dirname(src.model)), "data.jsonl");
  if (src.model !== src.initial && existsSync(data)) {
    const records = readJsonl(data, SsoRecord)
      .map((l) => l.value)
      .slice(0, src.count);
    const items = records.map((r) => {
      const [s] = recordSequences(tok, r, ["x_chosen"]);
      return { prompt_ids: s.ids.slice(0, s.scoreFrom), response_ids: s.ids.slice(s.scoreFrom) };
    });
    return { items, previous: records.map((r) => r.ref_chosen_logps) };
  }
  const prompts = readPrompts(src.prompts).slice(0, src.count + 1);
  const text = (i: number) => {
    const m = prompts[i % prompts.length].messages;
    return String(m[m.length - 1].content);
  };
  const items = prompts.slice(0, src.count).map((p, i) => {
    const response = tok.encode(text(i + 1)).slice(0, 32);
    return { prompt_ids: tok.encodePrompt(p.messages), response_ids: response.length ? response : [0] };
  });
  return { items };
}

export const probeScoreItems = (p: Probe): ScoreItem[] =>
  p.items.map((it) => ({ promptIds: it.prompt_ids, responseIds: it.response_ids }));

/** The largest difference per response token between two lists of sums (−∞ equal to −∞ counts as 0). */
export function maxPerToken(a: readonly number[], b: readonly number[], n: readonly number[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    const d = x === b[i] ? 0 : Math.abs(x - b[i]) / Math.max(1, n[i]);
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
  });
  return worst;
}

/**
 * Null when the server's sums match the probe within tolerance; else the reason, for a one-line error (saying so
 * when they are nearer to the previous model's: a server that kept its old weights).
 */
export function probeVerdict(p: Probe, served: readonly number[], tolerance: number): string | null {
  const fmt = (v: readonly number[]) => `[${v.map((x) => x.toFixed(4)).join(", ")}]`;
  const off = maxPerToken(served, p.logps, p.n_tokens);
  if (off <= tolerance) return null;
  const prev = p.previous && maxPerToken(served, p.previous, p.n_tokens);
  if (prev !== undefined && prev < off)
    return `probe log-probs ${fmt(served)} are those of the previous weights ${fmt(p.previous!)} (max |Δ| per token ${prev.toPrecision(3)}), not the expected ${fmt(p.logps)} (${off.toPrecision(3)} > tolerance ${tolerance})`;
  return `probe log-probs ${fmt(served)}, expected ${fmt(p.logps)} (max |Δ| per token ${off.toPrecision(3)} > tolerance ${tolerance})`;
}
