// Issue 33's "already aligned" model: a model made from a demo model the way instruct models are made — by another
// alignment method than SSO, with labels SSO never sees. Rounds of on-policy DPO on checker-labelled pairs: each
// round samples SAMPLES answers per training-split prompt from the current model (temperature 1), the world's
// checkers label them as the RM experiment's "human" set is labelled (src/demo/rm-experiment.ts sampledPairs: chosen
// = a best-rated answer, rejected = a random lower-rated one, prompts whose answers all rate the same give no pair),
// and the demo's trainer trains the current model on them with the plain DPO objective (preset "dpo", the current
// model as reference). After each round a fixed VALIDATION set — the training items' evaluation-only phrasings,
// never SSO's training prompts and never the held-out pool — is answered greedily; the rounds stop when its pass
// rate does not rise above the best so far (or after --rounds), and the aligned model is the best round's
// (OUT/model). OUT/aligned.json records every round. Resumable: a finished round is reused.
//
//   node dist/tools/make-aligned-model.js --base /work/exp/variants/demo-20000-e2 --out /work/exp/aligned
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { sampledPairs } from "../src/demo/rm-experiment.js";
import { defaultDemoModel, methodConfig } from "../src/demo/run.js";
import { policyHash } from "../src/model/hash.js";
import { openModel } from "../src/model/open.js";
import { SsoRecord } from "../src/sso/record.js";
import { runTrain } from "../src/sso/run-train.js";
import { rescoreReference } from "../src/sso/train.js";
import { mixSeed, Rng } from "../src/tensor/rng.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { readJson } from "../src/util/files.js";
import { answerAll, evaluateWorld, type WorldSummary } from "../src/world/evaluate.js";
import { allPrompts, trainPrompts, type WorldPrompt } from "../src/world/world.js";

export interface AlignOptions {
  base: string;
  out: string;
  seed: number;
  /** The most DPO rounds. */
  rounds: number;
  /** Training-split prompts per round, and answers sampled per prompt. */
  prompts: number;
  samples: number;
  /** Validation prompts (the training items' extra phrasings, a seeded subset). */
  validation: number;
  lr: number;
  beta: number;
  maxNewTokens: number;
  backend: string;
}

export interface RoundResult {
  round: number;
  pairs: number;
  /** Validation pass rate (0–1) of the round's model. */
  validation: number;
  /** Whether it rose above the best so far (a round that does not ends the rounds and is not kept). */
  kept: boolean;
  seconds: number;
}

export interface AlignResult {
  options: AlignOptions;
  /** Validation pass rate of the base model. */
  base_validation: number;
  rounds: RoundResult[];
  /** The round whose model is OUT/model (0 = the base model itself). */
  picked: number;
  stopped: string;
}

/** The validation set: a seeded subset of the training items' evaluation-only phrasings (never trained on by SSO,
 * whose prompts are core phrasings, and never the held-out pool, whose items are held out). */
export function validationPrompts(seed: number, n: number): WorldPrompt[] {
  const extras = allPrompts("train", { extra: true }).filter((p) => !p.core);
  if (n > extras.length) throw new Error(`--validation: at most ${extras.length} prompts (got ${n})`);
  return new Rng(mixSeed(seed, 0x76616c)).shuffle([...extras]).slice(0, n);
}

const positiveInt = (flag: string, v: string): number => {
  if (!/^[1-9][0-9]*$/.test(v)) throw new Error(`${flag}: expected a positive integer, got "${v}"`);
  return Number(v);
};
const positive = (flag: string, v: string): number => {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x <= 0)
    throw new Error(`${flag}: expected a positive number, got "${v}"`);
  return x;
};

/** Checks the options before any work: the base folder is a model, the output is not a file. */
export function checkAlignOptions(o: AlignOptions): void {
  if (!existsSync(join(o.base, "config.json"))) throw new Error(`--base: ${o.base} has no config.json (not a model)`);
  if (existsSync(o.out) && !statSync(o.out).isDirectory()) throw new Error(`--out: ${o.out} is a file`);
  if (o.samples < 2) throw new Error(`--samples: at least 2 answers per prompt make a pair (got ${o.samples})`);
  validationPrompts(o.seed, o.validation);
}

/** SSO records (src/sso/record.ts) of plain DPO pairs: no system messages (x+ = x- = x), y° = the first sample. */
function pairRecords(
  modelDir: string,
  prompts: readonly WorldPrompt[],
  answers: readonly { text: string; finishReason: "eos" | "stop" | "length" }[][],
  pairs: ReturnType<typeof sampledPairs>["pairs"],
  o: AlignOptions,
  round: number,
  sampleSeed: number,
): SsoRecord[] {
  const { model, tok } = openModel(modelDir, { backend: o.backend });
  const hash = policyHash(modelDir),
    index = new Map(prompts.map((p, i) => [p.text, i]));
  const count = (p: string, y: string) => tok.encodeChat([{ role: "user", content: p }], y).responseIds.length;
  const records = pairs.map((x, k): SsoRecord => {
    const i = index.get(x.prompt)!,
      ys = answers[i];
    const at = (y: string) => ys.findIndex((a) => a.text === y);
    const [c, r] = [at(x.chosen), at(x.rejected)];
    const seedOf = (j: number) => mixSeed(sampleSeed, i * o.samples + j) >>> 0;
    return {
      id: `round-${round}-${k}`,
      prompt_index: i,
      iteration: round,
      prompt: [{ role: "user", content: x.prompt }],
      chosen: [{ role: "assistant", content: x.chosen }],
      rejected: [{ role: "assistant", content: x.rejected }],
      raw: [{ role: "assistant", content: ys[0].text }],
      features: ["world-checkers"],
      principle_sources: [],
      system_pos: "",
      system_neg: "",
      finish_reasons: { chosen: ys[c].finishReason, rejected: ys[r].finishReason, raw: ys[0].finishReason },
      sampling: { temperature: 1, top_p: 0.8, top_k: 0, max_new_tokens: o.maxNewTokens, raw_greedy: false },
      seed: o.seed,
      sample_seeds: { chosen: seedOf(c), rejected: seedOf(r), raw: seedOf(0) },
      policy_model: modelDir,
      policy_hash: hash,
      ref_chosen_logps: 0,
      ref_rejected_logps: 0,
      ref_pos_chosen_logps: 0,
      ref_pos_rejected_logps: 0,
      ref_neg_chosen_logps: 0,
      ref_neg_rejected_logps: 0,
      ref_neg_raw_logps: 0,
      chosen_n_tokens: count(x.prompt, x.chosen),
      rejected_n_tokens: count(x.prompt, x.rejected),
      raw_n_tokens: count(x.prompt, ys[0].text),
    };
  });
  // Every reference column scored by the round's starting model (the DPO reference), then checked by the schema.
  return rescoreReference(model, tok, records).map((r) => SsoRecord.parse(r));
}

function validate(dir: string, prompts: readonly WorldPrompt[], o: AlignOptions): WorldSummary {
  const { model, tok } = openModel(dir, { backend: o.backend, keep16: true });
  return evaluateWorld(model, tok, prompts, { maxNewTokens: o.maxNewTokens }).summary;
}

/** One round from `from`: sample, label, DPO-train into OUT/round-R/train/model (reused when present). */
function runRound(o: AlignOptions, round: number, from: string): number {
  const dir = join(o.out, `round-${round}`),
    data = join(dir, "pairs.jsonl");
  mkdirSync(dir, { recursive: true });
  const cfg = methodConfig(
    {
      out: dir,
      full: false,
      seed: o.seed,
      iterations: 1,
      trainPrompts: o.prompts,
      evalPrompts: o.validation,
      backend: o.backend,
      lr: o.lr,
      beta: o.beta,
      maxNewTokens: o.maxNewTokens,
    },
    "dpo",
  ).train;
  let pairs = 0;
  if (!existsSync(data)) {
    const prompts = trainPrompts(mixSeed(o.seed, round), o.prompts),
      sampleSeed = mixSeed(o.seed, 100 + round);
    const { model, tok } = openModel(from, { backend: o.backend, keep16: true });
    const res = answerAll(
      model,
      tok,
      prompts.flatMap((p) => Array.from({ length: o.samples }, () => [{ role: "user", content: p.text }])),
      { temperature: 1, maxNewTokens: o.maxNewTokens, seed: sampleSeed },
    );
    const answers = prompts.map((_, i) => res.slice(i * o.samples, (i + 1) * o.samples));
    const labelled = sampledPairs(
      answers.map((ys) => ys.map((y) => y.text)),
      prompts,
      mixSeed(o.seed, 200 + round),
    ).pairs;
    const records = pairRecords(from, prompts, answers, labelled, o, round, sampleSeed);
    writeFileAtomic(data, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    pairs = records.length;
  } else pairs = readJsonlCount(data);
  if (pairs === 0) return 0;
  if (!existsSync(join(dir, "train", "model", "model.safetensors")))
    runTrain({ model: from, data, out: join(dir, "train"), config: cfg, backend: o.backend, resume: true });
  return pairs;
}

const readJsonlCount = (file: string): number => readFileSync(file, "utf8").split("\n").filter(Boolean).length;

/** The rounds, the stopping rule and OUT/model; OUT/aligned.json is rewritten after every step. */
export function makeAlignedModel(o: AlignOptions): AlignResult {
  checkAlignOptions(o);
  mkdirSync(o.out, { recursive: true });
  const stateFile = join(o.out, "aligned.json"),
    val = validationPrompts(o.seed, o.validation);
  const prior = existsSync(stateFile) ? (readJson(stateFile) as AlignResult) : undefined;
  if (prior && JSON.stringify(prior.options) !== JSON.stringify(o))
    throw new Error(`${stateFile}: made with other options; choose another --out or remove it`);
  const result: AlignResult = prior ?? {
    options: o,
    base_validation: validate(o.base, val, o).overall ?? 0,
    rounds: [],
    picked: 0,
    stopped: "",
  };
  const save = () => writeFileAtomic(stateFile, `${JSON.stringify(result, null, 2)}\n`);
  save();
  const modelOf = (round: number) => (round === 0 ? o.base : join(o.out, `round-${round}`, "train", "model"));
  let best = Math.max(result.base_validation, ...result.rounds.filter((r) => r.kept).map((r) => r.validation));
  while (!result.stopped) {
    const round = result.rounds.length + 1;
    if (round > o.rounds) {
      result.stopped = `round cap ${o.rounds} reached`;
      break;
    }
    const t0 = performance.now(),
      pairs = runRound(o, round, modelOf(result.picked));
    if (pairs === 0) {
      result.stopped = `round ${round}: no pairs (every prompt's answers rated the same)`;
      break;
    }
    const rate = validate(modelOf(round), val, o).overall ?? 0,
      kept = rate > best;
    result.rounds.push({ round, pairs, validation: rate, kept, seconds: (performance.now() - t0) / 1000 });
    console.error(
      `round ${round}: ${pairs} pairs, validation ${(100 * rate).toFixed(1)}% (best ${(100 * best).toFixed(1)}%)`,
    );
    if (kept) {
      best = rate;
      result.picked = round;
    } else result.stopped = `round ${round}: validation did not rise`;
    save();
  }
  save();
  const model = join(o.out, "model");
  rmSync(model, { recursive: true, force: true });
  cpSync(modelOf(result.picked), model, { recursive: true });
  console.log(
    `aligned model: ${model} (round ${result.picked}; validation ${(100 * best).toFixed(1)}% from ${(100 * result.base_validation).toFixed(1)}%; ${result.stopped})`,
  );
  return result;
}

export function parseAlignArgs(args: string[]): AlignOptions {
  const { values } = parseArgs({
    args,
    options: {
      base: { type: "string" },
      out: { type: "string" },
      seed: { type: "string", default: "1" },
      rounds: { type: "string", default: "4" },
      prompts: { type: "string", default: "200" },
      samples: { type: "string", default: "4" },
      validation: { type: "string", default: "300" },
      lr: { type: "string", default: "1e-4" },
      beta: { type: "string", default: "0.1" },
      "max-new-tokens": { type: "string", default: "64" },
      backend: { type: "string", default: "cpu" },
    },
  });
  if (!values.out) throw new Error("--out: required (the folder for the rounds and OUT/model)");
  const seed = Number(values.seed);
  if (!/^[0-9]+$/.test(values.seed) || seed > 0xffffffff)
    throw new Error(`--seed: expected 0…4294967295, got "${values.seed}"`);
  return {
    base: resolve(values.base ?? defaultDemoModel()),
    out: resolve(values.out),
    seed,
    rounds: positiveInt("--rounds", values.rounds),
    prompts: positiveInt("--prompts", values.prompts),
    samples: positiveInt("--samples", values.samples),
    validation: positiveInt("--validation", values.validation),
    lr: positive("--lr", values.lr),
    beta: positive("--beta", values.beta),
    maxNewTokens: positiveInt("--max-new-tokens", values["max-new-tokens"]),
    backend: values.backend,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    makeAlignedModel(parseAlignArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(`make-aligned-model: ${(e as Error).message}`);
    process.exit(1);
  }
}
