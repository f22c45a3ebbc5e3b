// `sso rm demo` / `npm run demo:rm`: the paper's reward-model experiment in the principle world, built on the demo
// (its model and its SSO settings) and the reward-model library (src/rm/) (docs/RESULTS.md,
// "Reward models", states the protocol). Per seed, from the embedded base model: a "human" set (base-model answers
// labelled by the world's checkers), a noisy "public" set (the same kind of pairs with a share of labels flipped
// and forced choices between equally rated answers added), SSO data synthesised by the policy exactly as the demo
// does (never checker-labelled), and held-out checker-labelled pairs on held-out prompts. Four RMs (human,
// human + noisy, human + SSO, SSO) are trained from the base model with the same settings and evaluated on the
// held-out pairs. Every part is resumable (files are reused when present); timings per part are recorded.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { mean, sampleStd } from "../eval/stats.js";
import { readConfig } from "../model/folder.js";
import { openModel } from "../model/open.js";
import { evalRewardModel } from "../rm/eval.js";
import { REWARD_POSITION_KEY } from "../rm/model.js";
import { runRmTrain } from "../rm/run-train.js";
import { RmTrainConfig } from "../rm/train.js";
import { pairLines, type WorldPair, withLabelNoise } from "../rm/world-pairs.js";
import { SsoRecord } from "../sso/record.js";
import { runSynth } from "../sso/run-synth.js";
import { mixSeed, Rng } from "../tensor/rng.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl } from "../util/jsonl.js";
import { checkResponse, meanPass } from "../world/check.js";
import { answerAll } from "../world/evaluate.js";
import { heldOutPrompts, promptLines, trainPrompts, type WorldPrompt } from "../world/world.js";
import { markdownTable, textTable } from "./report.js";
import { rmExperimentHtml, type SeedResult } from "./rm-experiment-report.js";
import { defaultDemoModel, methodConfig } from "./run.js";

export interface RmExperimentOptions {
  model?: string;
  out: string;
  seeds: number[];
  /** Training prompts per data set (human, noisy, SSO each get their own). */
  prompts: number;
  /** Held-out prompts for the evaluation pairs. */
  heldOut: number;
  /** Answers sampled per prompt for the checker-labelled sets. */
  samples: number;
  /** Noisy set: share of labels flipped, and forced choices between equally rated answers (share of its pairs). */
  flip: number;
  ties: number;
  lr: number;
  epochs: number;
  maxNewTokens: number;
  backend: string;
}

export const RM_RUNS: Record<string, string[]> = {
  human: ["human"],
  "human+noisy": ["human", "noisy"],
  "human+sso": ["human", "sso"],
  sso: ["sso"],
};

/**
 * Checker-labelled pairs from `samples` sampled answers per prompt, UltraFeedback-style: chosen = a best-rated answer,
 * rejected = a random lower-rated one; prompts whose answers all rate the same give a tie (for the noisy set).
 */
export function sampledPairs(
  answers: readonly string[][],
  prompts: readonly WorldPrompt[],
  seed: number,
): { pairs: WorldPair[]; ties: WorldPair[] } {
  const pairs: WorldPair[] = [],
    ties: WorldPair[] = [];
  prompts.forEach((p, i) => {
    const rng = new Rng(mixSeed(seed, i)),
      ys = answers[i],
      s = ys.map((y) => meanPass(checkResponse(p, y)) ?? 0);
    const best = s.indexOf(Math.max(...s)),
      lower = s.map((v, k) => (v < s[best] ? k : -1)).filter((k) => k >= 0);
    if (lower.length > 0) {
      const r = lower[rng.int(lower.length)];
      pairs.push({ prompt: p.text, chosen: ys[best], rejected: ys[r], scores: [s[best], s[r]] });
    } else {
      const other = ys.findIndex((y) => y !== ys[0]);
      if (other > 0) ties.push({ prompt: p.text, chosen: ys[other], rejected: ys[0], scores: [s[0], s[0]] });
    }
  });
  return { pairs, ties };
}

const timed = <T>(seconds: Record<string, number>, part: string, f: () => T): T => {
  const t0 = performance.now(),
    r = f();
  seconds[part] = (seconds[part] ?? 0) + (performance.now() - t0) / 1000;
  return r;
};

/** The share of a file's pairs whose chosen answer the checkers rate strictly higher. */
function checkerAgreement(pairs: readonly { prompt: WorldPrompt; chosen: string; rejected: string }[]): number | null {
  if (pairs.length === 0) return null;
  const score = (p: WorldPrompt, y: string) => meanPass(checkResponse(p, y)) ?? 0;
  return pairs.filter((x) => score(x.prompt, x.chosen) > score(x.prompt, x.rejected)).length / pairs.length;
}

function runSeed(o: RmExperimentOptions, seed: number): SeedResult {
  const dir = join(o.out, `seed-${seed}`),
    modelDir = o.model ?? defaultDemoModel(),
    seconds: Record<string, number> = {};
  mkdirSync(dir, { recursive: true });
  const all = trainPrompts(seed, 3 * o.prompts),
    sets = {
      human: all.slice(0, o.prompts),
      noisy: all.slice(o.prompts, 2 * o.prompts),
      sso: all.slice(2 * o.prompts),
    };
  const heldout = heldOutPrompts(seed, o.heldOut),
    byText = new Map([...all, ...heldout].map((p) => [p.text, p]));
  const file = (name: string) => join(dir, `${name}.jsonl`);
  // 1. Checker-labelled pairs: human, noisy and held-out from sampled base-model answers.
  if (![file("human"), file("noisy"), file("heldout")].every(existsSync)) {
    timed(seconds, "sample and label", () => {
      const { model, tok } = openModel(modelDir, { backend: o.backend });
      const answers = (ps: readonly WorldPrompt[], s: number) => {
        const res = answerAll(
          model,
          tok,
          ps.flatMap((p) => Array.from({ length: o.samples }, () => [{ role: "user", content: p.text }])),
          { temperature: 1, maxNewTokens: o.maxNewTokens, seed: s },
        );
        return ps.map((_, i) => res.slice(i * o.samples, (i + 1) * o.samples).map((r) => r.text));
      };
      const human = sampledPairs(answers(sets.human, mixSeed(seed, 1)), sets.human, mixSeed(seed, 2));
      const noisyBase = sampledPairs(answers(sets.noisy, mixSeed(seed, 3)), sets.noisy, mixSeed(seed, 4));
      const noisy = withLabelNoise(noisyBase.pairs, noisyBase.ties, {
        flip: o.flip,
        ties: o.ties,
        seed: mixSeed(seed, 5),
      });
      const held = sampledPairs(answers(heldout, mixSeed(seed, 6)), heldout, mixSeed(seed, 7));
      writeFileAtomic(file("human"), pairLines(human.pairs));
      writeFileAtomic(file("noisy"), pairLines(noisy));
      writeFileAtomic(file("heldout"), pairLines(held.pairs));
    });
  }
  // 2. SSO data: the demo's synthesis on the SSO prompts (the policy labels its own pairs).
  if (!existsSync(file("sso"))) {
    const promptsFile = join(dir, "sso-prompts.jsonl");
    writeFileAtomic(promptsFile, promptLines(sets.sso));
    const cfg = methodConfig(
      {
        out: dir,
        full: false,
        seed,
        iterations: 1,
        trainPrompts: o.prompts,
        evalPrompts: o.heldOut,
        backend: o.backend,
        lr: o.lr,
        maxNewTokens: o.maxNewTokens,
      },
      "sso",
    );
    timed(seconds, "SSO synthesis", () =>
      runSynth({ model: modelDir, prompts: promptsFile, out: file("sso"), config: cfg.synth, backend: o.backend }),
    );
  }
  // 3. Label quality of each training set, by the checkers (reported, never used for training).
  const trl = (name: string) =>
    readFileSync(file(name), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string })
      .map((x) => ({ prompt: byText.get(x.prompt)!, chosen: x.chosen, rejected: x.rejected }));
  const ssoPairs = readJsonl(file("sso"), SsoRecord).map(({ value: r }) => ({
    prompt: byText.get(r.prompt[r.prompt.length - 1].content)!,
    chosen: r.chosen[0].content,
    rejected: r.rejected[0].content,
  }));
  const setPairs = { human: trl("human"), noisy: trl("noisy"), sso: ssoPairs };
  const setsOut = Object.fromEntries(
    Object.entries(setPairs).map(([k, v]) => [k, { pairs: v.length, checker_agreement: checkerAgreement(v) }]),
  );
  // 4. The four RMs, trained from the base model with the same settings, evaluated on the held-out pairs.
  const config = RmTrainConfig.parse({ lr: o.lr, epochs: o.epochs, batchSize: 16, microBatch: 16, seed, saveEvery: 0 });
  const accuracy: Record<string, number> = {};
  let heldoutPairs = 0;
  for (const [name, data] of Object.entries(RM_RUNS)) {
    const out = join(dir, `rm-${name}`),
      report = join(out, "heldout-eval.json");
    if (existsSync(join(out, "model", "config.json"))) checkReusable(join(out, "model"));
    else
      timed(seconds, `train ${name}`, () =>
        runRmTrain({
          model: modelDir,
          data: data.map((d) => ({ path: file(d), weight: 1 })),
          out,
          config,
          backend: o.backend,
          resume: true,
          quiet: true,
        }),
      );
    const ev = timed(seconds, "evaluate", () =>
      evalRewardModel({
        model: join(out, "model"),
        data: file("heldout"),
        out: report,
        backend: o.backend,
        batchTokens: 4096,
        seed,
        quiet: true,
      }),
    );
    accuracy[name] = ev.overall.accuracy ?? NaN;
    heldoutPairs = ev.overall.n;
  }
  const result: SeedResult = { seed, sets: setsOut, accuracy, heldout_pairs: heldoutPairs, seconds };
  console.error(
    `seed ${seed}: ${Object.entries(accuracy)
      .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`)
      .join(", ")}`,
  );
  return result;
}

/**
 * A trained RM is reused only if it reads rewards where this code does (model.ts, REWARD_POSITION_KEY): one trained
 * before the convention changed has no key, and mixing it with new ones would compare two conventions.
 */
export function checkReusable(dir: string): void {
  if (readConfig(dir).raw[REWARD_POSITION_KEY] !== "last_token")
    throw new Error(
      `${dir}: trained with the reward read at the end-of-turn token (before ${REWARD_POSITION_KEY} = "last_token"); remove ${dirname(dir)} to retrain it, or use another --out`,
    );
}

const pm = (xs: number[], scale = 100, digits = 1) =>
  `${(scale * mean(xs)).toFixed(digits)} ± ${(scale * sampleStd(xs)).toFixed(digits)}`;

/** Rows: each RM's held-out accuracy (mean ± std over seeds) and per seed. */
export function rmExperimentRows(results: readonly SeedResult[]): string[][] {
  return [
    ["RM (training data)", "held-out accuracy % (mean ± std)", ...results.map((r) => `seed ${r.seed}`)],
    ...Object.keys(RM_RUNS).map((name) => [
      name,
      pm(results.map((r) => r.accuracy[name])),
      ...results.map((r) => (100 * r.accuracy[name]).toFixed(1)),
    ]),
  ];
}

/** Rows: each training set's size and checker agreement (mean ± std over seeds). */
export function rmSetRows(results: readonly SeedResult[]): string[][] {
  return [
    ["data set", "pairs (mean)", "labels the checkers agree with %"],
    ...["human", "noisy", "sso"].map((k) => [
      k,
      mean(results.map((r) => r.sets[k].pairs)).toFixed(0),
      pm(results.map((r) => r.sets[k].checker_agreement ?? NaN)),
    ]),
  ];
}

export function runRmExperiment(o: RmExperimentOptions): SeedResult[] {
  if (o.seeds.length === 0) throw new Error("--seeds: give at least one seed");
  mkdirSync(o.out, { recursive: true });
  const t0 = performance.now();
  const results = o.seeds.map((s) => runSeed(o, s));
  const minutes = (performance.now() - t0) / 60000;
  const parts = [...new Set(results.flatMap((r) => Object.keys(r.seconds)))];
  const timing = parts
    .map((p) => `${p} ${results.reduce((a, r) => a + (r.seconds[p] ?? 0), 0).toFixed(0)} s`)
    .join(", ");
  const notes = `Seeds ${o.seeds.join(", ")}; ${o.prompts} prompts per training set, ${o.heldOut} held-out prompts (${results.map((r) => r.heldout_pairs).join("/")} held-out pairs); ${minutes.toFixed(1)} min this run on ${o.backend} (${timing || "all parts reused"}).`;
  const md = `${notes}\n\n${markdownTable(rmExperimentRows(results))}\n\n${markdownTable(rmSetRows(results))}\n`;
  writeFileAtomic(join(o.out, "rm-summary.md"), md);
  writeFileAtomic(join(o.out, "rm-summary.json"), `${JSON.stringify({ options: o, results }, null, 2)}\n`);
  writeFileAtomic(
    join(o.out, "report.html"),
    rmExperimentHtml(results, notes, rmExperimentRows(results), rmSetRows(results)),
  );
  console.log(`\nReward models in the principle world: held-out pairwise accuracy (${notes})\n`);
  console.log(textTable(rmExperimentRows(results)));
  console.log(`\n${textTable(rmSetRows(results))}\n\nreport: ${join(o.out, "report.html")}`);
  return results;
}
