// Builds the embedded demo model `models/sso-demo/` from scratch with our own engine (issue 7, item 2): a seeded SFT
// corpus from the principle world, a byte-level BPE tokenizer learned on it (tokenizer.json + ChatML template), a
// small Qwen2-style model (tied embeddings, GQA) trained on the assistant turns, saved atomically as a Hugging Face
// folder; then a check of what SSO needs from it — held-out prompts answered plainly, under a good-principle
// system message (x+) and under a bad one (x-), judged by the world's checkers, and feature-selection prompts
// answered with parseable feature names.
//
//   npm run make-demo-model                       # the shipped model: ~25 min on the project's 2-core machine
//   npm run make-demo-model -- --examples 2000 --epochs 1 --out /tmp/demo   # a quick smoke run (~1 min)
//
// (tools/ is compiled because test/demo imports this file.) Everything derives from DEMO.seed, so a rerun on the
// same machine writes the same files. It is not the demo itself
// (`npm run demo`, issue 7 item 3) and trains no SSO.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { getBackend } from "../src/backends/index.js";
import { trainBpe } from "../src/demo/bpe.js";
import { type SftOptions, tokenizeConversations, trainSft } from "../src/demo/pretrain.js";
import { parseConfig } from "../src/model/config.js";
import { initModel, loadModel, saveModel } from "../src/model/folder.js";
import type { Model } from "../src/model/model.js";
import { DEFAULT_LIBRARY, type Feature, findFeature } from "../src/sso/features.js";
import {
  contrastivePrompts,
  libraryPrinciples,
  parseFeatureList,
  selectionMessages,
  systemMessage,
} from "../src/sso/prompts.js";
import { chooseFeatures } from "../src/sso/select.js";
import { hashSeed, Rng } from "../src/tensor/rng.js";
import { DEFAULT_SPECIAL_TOKENS, writeByteLevelTokenizer } from "../src/tokenizer/byte-level.js";
import { type ChatMessage, Tokenizer } from "../src/tokenizer/tokenizer.js";
import { packageRoot } from "../src/util/package-root.js";
import {
  APPLICABLE,
  answerAll,
  type CorpusExample,
  checkAll,
  FITTING,
  fnv1a,
  heldOutPrompts,
  makeCorpus,
  selectionAnswer,
  summarizeWorld,
  WORLD_FEATURES,
  type WorldFeature,
  type WorldPrompt,
  type WorldSummary,
  writeAnswer,
} from "../src/world/index.js";

/** The recipe of the shipped model. */
export const DEMO = {
  seed: 1,
  /** Corpus conversations (the world's pos/neg/plain/select mix). */
  examples: 40_000,
  /** Conversations the BPE merges are learned from. */
  bpeExamples: 4_000,
  merges: 1_000,
  /**
   * Share of plain (no system message) answers that are the prompt's own habitual answer (see `habitOf`); the rest
   * stay the corpus's noisy mixture. Without habits the most likely plain answer is the good one, so greedy decoding
   * of the plain prompt scores like x+ and leaves SSO nothing to improve.
   */
  plainHabit: 0.6,
  /** config.json without vocab_size (set from the tokenizer). */
  model: {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_size: 256,
    intermediate_size: 704,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 2048,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    hidden_act: "silu",
    initializer_range: 0.02,
  } as Record<string, unknown>,
  train: {
    epochs: 2,
    batchTokens: 4096,
    lr: 2e-3,
    warmupSteps: 100,
    weightDecay: 0.1,
    maxGradNorm: 1.0,
    seed: 1,
  } satisfies Omit<SftOptions, "log" | "logEvery" | "label">,
  /** Held-out prompts of the x+/plain/x- check, and of the selection check. */
  evalPrompts: 100,
  selectionPrompts: 24,
};

export const DEMO_DIR = "models/sso-demo";

/** ChatML text of a conversation (for learning merges on what the model will read). */
/** A prompt's habitual plain answer, fixed by a hash of its id: good for 40 % of prompts, else one defect. */
export function habitOf(p: WorldPrompt): WorldFeature[] {
  const h = fnv1a(`habit:${p.id}`),
    applicable = APPLICABLE[p.task.family];
  return h % 100 < 40 ? [] : [applicable[(h >>> 8) % applicable.length]];
}

/** The corpus with `share` of its plain answers replaced by the prompt's habitual answer. */
export function withHabits(corpus: readonly CorpusExample[], seed: number, share: number): CorpusExample[] {
  return corpus.map((e, i) => {
    if (e.kind !== "plain") return e;
    const rng = new Rng(hashSeed(seed, 7_000_003 + i));
    if (rng.uniform() >= share) return e;
    const defects = habitOf(e.prompt);
    return {
      ...e,
      defects,
      messages: [...e.messages.slice(0, -1), { role: "assistant", content: writeAnswer(e.prompt, defects, rng) }],
    };
  });
}

const chatText = (tok: Tokenizer, messages: ChatMessage[]): string =>
  tok.applyChatTemplate(messages, { addGenerationPrompt: false });

/** Writes tokenizer.json, tokenizer_config.json and generation_config.json into dir. */
export function writeDemoTokenizer(dir: string, merges: [string, string][]): Tokenizer {
  writeByteLevelTokenizer(dir, { merges });
  const probe = Tokenizer.fromDir(dir);
  const id = (t: string) => probe.tokenToId(t)!;
  const gen = {
    bos_token_id: id("<|endoftext|>"),
    pad_token_id: id("<|endoftext|>"),
    eos_token_id: [id("<|im_end|>"), id("<|endoftext|>")],
    do_sample: false,
  };
  writeFileSync(join(dir, "generation_config.json"), `${JSON.stringify(gen, null, 2)}\n`);
  return Tokenizer.fromDir(dir);
}

/** The x+ and x- system messages the corpus would give a prompt (features as synthesis chooses them). */
export function contrastiveFor(
  p: WorldPrompt,
  seed: number,
  i: number,
): { pos: ChatMessage[]; neg: ChatMessage[]; features: string[] } {
  const rng = new Rng(hashSeed(seed, 5_000_011 + i));
  const choice = chooseFeatures(
    selectionAnswer(p.task.family, DEFAULT_LIBRARY, rng),
    DEFAULT_LIBRARY,
    2,
    0.2,
    rng.nextUint32(),
    rng.nextUint32(),
  );
  const features = choice.features
    .map((n) => findFeature(DEFAULT_LIBRARY, n))
    .filter((f): f is Feature => f !== undefined);
  const principles = libraryPrinciples(features);
  const x = contrastivePrompts(
    [{ role: "user", content: p.text }],
    systemMessage("pos", features, principles),
    systemMessage("neg", features, principles),
  );
  return { pos: x.pos, neg: x.neg, features: choice.features };
}

export interface DemoEvaluation {
  plain: WorldSummary;
  pos: WorldSummary;
  neg: WorldSummary;
  selection: { n: number; parsed: number; fitting: number; examples: string[] };
}

/** The world's judgement of answers to `prompts` plain, under x+ and under x- (system messages as the corpus
 * writes them, `contrastiveFor` with `seed`); ≤ 96 new tokens, greedy unless a temperature is given. */
export function principleConditions(
  model: Model,
  tok: Tokenizer,
  prompts: readonly WorldPrompt[],
  seed: number,
  temperature = 0,
): { plain: WorldSummary; pos: WorldSummary; neg: WorldSummary } {
  const x = prompts.map((p, i) => contrastiveFor(p, seed, i));
  const judge = (convs: ChatMessage[][]) =>
    summarizeWorld(checkAll(prompts, answerAll(model, tok, convs, { maxNewTokens: 96, temperature, seed })));
  const plain = judge(prompts.map((p) => [{ role: "user", content: p.text }]));
  return { plain, pos: judge(x.map((c) => c.pos)), neg: judge(x.map((c) => c.neg)) };
}

/** x+ / plain / x- on held-out prompts, and the selection check. */
export function evaluateDemo(
  model: Model,
  tok: Tokenizer,
  seed: number,
  nPrompts: number,
  nSelection: number,
  temperature = 0,
): DemoEvaluation {
  const prompts = heldOutPrompts(seed, nPrompts);
  const { plain, pos, neg } = principleConditions(model, tok, prompts, seed, temperature);
  const sel = prompts.slice(0, nSelection);
  const answers = answerAll(
    model,
    tok,
    sel.map((p) => selectionMessages(DEFAULT_LIBRARY, p.text)),
    { maxNewTokens: 24, temperature, seed },
  );
  let parsed = 0,
    fitting = 0;
  sel.forEach((p, i) => {
    const names = parseFeatureList(answers[i].text, DEFAULT_LIBRARY);
    if (names.length > 0) parsed++;
    if (names.length > 0 && names.every((n) => FITTING[p.task.family].includes(n))) fitting++;
  });
  const examples = sel
    .slice(0, 4)
    .map((p, i) => `${p.task.family}: ${JSON.stringify(p.text)} → ${JSON.stringify(answers[i].text)}`);
  return { plain, pos, neg, selection: { n: sel.length, parsed, fitting, examples } };
}

const pct = (r: number | null): string => (r === null ? "-" : `${(100 * r).toFixed(0)}%`);

/** The x+ / plain / x- table, one row per judged feature, then overall and mean length. */
export function formatEvaluation(e: DemoEvaluation): string {
  const cols: [string, WorldSummary][] = [
    ["x+ (good)", e.pos],
    ["plain", e.plain],
    ["x- (bad)", e.neg],
  ];
  const row = (name: string, cells: string[]) => name.padEnd(20) + cells.map((c) => c.padStart(11)).join("");
  const lines = [
    row(
      "feature",
      cols.map(([n]) => n),
    ),
  ];
  for (const f of WORLD_FEATURES)
    lines.push(
      row(
        `${f} (n=${e.plain.features[f].n})`,
        cols.map(([, s]) => pct(s.features[f].rate)),
      ),
    );
  lines.push(
    row(
      "overall",
      cols.map(([, s]) => pct(s.overall)),
    ),
  );
  lines.push(
    row(
      "mean chars",
      cols.map(([, s]) => s.mean_chars.toFixed(0)),
    ),
  );
  const s = e.selection;
  lines.push(
    `selection: ${s.parsed}/${s.n} answers name library features; ${s.fitting}/${s.n} name only features that fit the task`,
  );
  lines.push(...s.examples.map((x) => `  ${x}`));
  return lines.join("\n");
}

export interface MakeOptions {
  out: string;
  examples: number;
  epochs: number;
  log: (line: string) => void;
}

/** The whole recipe: corpus → tokenizer → model → training → folder → evaluation. */
export function makeDemoModel(o: MakeOptions): DemoEvaluation {
  const t0 = performance.now();
  const secs = () => ((performance.now() - t0) / 1000).toFixed(0);
  const corpus = withHabits(makeCorpus(DEMO.seed, o.examples), DEMO.seed, DEMO.plainHabit);
  const work = mkdtempSync(join(tmpdir(), "sso-demo-"));
  try {
    const plainTok = writeDemoTokenizer(join(work, "bytes"), []);
    const texts = corpus.slice(0, DEMO.bpeExamples).map((e) => chatText(plainTok, e.messages));
    const merges = trainBpe(texts, DEMO.merges, { specialTokens: DEFAULT_SPECIAL_TOKENS });
    const tokDir = join(work, "tokenizer");
    const tok = writeDemoTokenizer(tokDir, merges);
    const chars = texts.reduce((s, t) => s + t.length, 0),
      toks = texts.reduce((s, t) => s + tok.encode(t).length, 0);
    o.log(
      `tokenizer: ${merges.length} merges, vocab ${tok.vocabSize}, ${(toks / chars).toFixed(3)} tokens/char on ${(chars / 1e6).toFixed(2)} MB · ${secs()} s`,
    );

    const examples = tokenizeConversations(
      tok,
      corpus.map((e) => e.messages),
    );
    const total = examples.reduce((s, e) => s + e.promptIds.length + e.responseIds.length, 0);
    const scored = examples.reduce((s, e) => s + e.responseIds.length, 0);
    o.log(`corpus: ${examples.length} conversations, ${total} tokens (${scored} trained) per epoch · ${secs()} s`);

    const config = parseConfig({ ...DEMO.model, vocab_size: tok.vocabSize });
    const model = initModel(config, DEMO.seed, getBackend("cpu"));
    const params = [...model.params.values()].reduce((s, p) => s + p.length, 0);
    o.log(`model: qwen2 ${params} parameters (${((params * 4) / 1e6).toFixed(1)} MB F32)`);
    const r = trainSft(model, examples, { ...DEMO.train, epochs: o.epochs, logEvery: 50, log: o.log, label: "sft" });
    const last = r.losses.slice(-50);
    o.log(
      `trained: ${r.steps} steps, ${r.tokens} tokens in ${r.seconds.toFixed(0)} s, final loss ${(last.reduce((a, b) => a + b, 0) / last.length).toFixed(4)}`,
    );

    saveModel(model, o.out, { dtype: "F32", carryFrom: tokDir });
    o.log(`saved ${o.out} · ${secs()} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const model = loadModel(o.out, getBackend("cpu"));
  const tok = Tokenizer.fromDir(o.out);
  const e = evaluateDemo(model, tok, DEMO.seed, DEMO.evalPrompts, DEMO.selectionPrompts);
  o.log(`evaluation on ${DEMO.evalPrompts} held-out prompts, greedy · ${secs()} s\n${formatEvaluation(e)}`);
  const sampled = evaluateDemo(model, tok, DEMO.seed, DEMO.evalPrompts, DEMO.selectionPrompts, 1);
  o.log(
    `the same, sampled (temperature 1, top-p 0.8) as synthesis samples · ${secs()} s\n${formatEvaluation(sampled)}`,
  );
  return e;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: "string", default: join(packageRoot(), DEMO_DIR) },
      examples: { type: "string", default: String(DEMO.examples) },
      epochs: { type: "string", default: String(DEMO.train.epochs) },
    },
  });
  makeDemoModel({
    out: resolve(values.out),
    examples: Number(values.examples),
    epochs: Number(values.epochs),
    log: (l) => console.log(l),
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
