// The memory check of `sso train`, `sso synth` and `sso iterate`, before any work: the token counts of the run's
// largest micro-batch (from the records, or bounded from the synthesis config), the estimate of src/model/memory.ts,
// and a one-line refusal naming the numbers and what would fit (recomputation, micro-batch 1, LoRA r=16) when the
// estimate exceeds the machine's memory or --memory-limit. `--no-memory-check` skips it.
import type { ModelConfig } from "../model/config.js";
import { LoraSettings } from "../model/lora.js";
import {
  availableMemory,
  describeEstimate,
  estimateMemory,
  gb,
  loraParameters,
  type MemoryEstimate,
  type MemoryLimit,
  parameterSplit,
  type Workload,
} from "../model/memory.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import type { SynthConfig } from "./config.js";
import type { FeatureLibrary } from "./features.js";
import { pairsNeeded } from "./objective.js";
import { PAIRS, RESPONSES } from "./pairs.js";
import { contrastivePrompts, libraryPrinciples, systemMessage } from "./prompts.js";
import { objectiveConfig, type TrainConfig } from "./train-config.js";

/** The flags: check (default) or not, against the machine's memory or a given number of GB (2^30 bytes). */
export interface MemoryOptions {
  check: boolean;
  limitGB?: number;
}

/** Packed tokens and scored rows of one record's training sequences. */
export interface RecordSize {
  tokens: number;
  rows: number;
}

/** The LoRA rank the refusal suggests. */
const LORA_R = 16;

export function memoryLimit(o: MemoryOptions | undefined): MemoryLimit {
  return o?.limitGB !== undefined ? { bytes: o.limitGB * 2 ** 30, source: "--memory-limit" } : availableMemory();
}

/** The largest micro-batch's tokens and rows (an upper bound: the microBatch largest records). */
function largestMicroBatch(sizes: readonly RecordSize[], cfg: TrainConfig): RecordSize {
  const n = Math.min(cfg.microBatch, cfg.batchSize),
    top = (k: keyof RecordSize) =>
      sizes
        .map((s) => s[k])
        .sort((a, b) => b - a)
        .slice(0, n)
        .reduce((a, b) => a + b, 0);
  return { tokens: top("tokens"), rows: top("rows") };
}

/**
 * The training workload of cfg on records of these sizes (our trainer). With train.lora the adapters train and every
 * model parameter is frozen, held 16-bit when `frozen16` (a BF16/F16 folder: the trainer loads a LoRA base with
 * keep16); full fine-tuning holds fp32 masters whatever the folder.
 */
export function trainWorkload(
  c: ModelConfig,
  cfg: TrainConfig,
  sizes: readonly RecordSize[],
  frozen16 = false,
): Workload {
  const mb = largestMicroBatch(sizes, cfg),
    train = { ...mb, recompute: cfg.recompute };
  if (!cfg.lora) return { ...parameterSplit(c, cfg.freeze), train };
  const all = parameterSplit(c);
  return {
    trainable: loraParameters(c, cfg.lora.r, cfg.lora.targets),
    frozen: all.trainable + all.frozen,
    ...(frozen16 && { frozenBytes: 2 }),
    train,
  };
}

/** Throws the one-line refusal when the training estimate exceeds the limit; returns the estimate otherwise. */
export function checkTrainMemory(
  what: string,
  c: ModelConfig,
  cfg: TrainConfig,
  sizes: readonly RecordSize[],
  o: MemoryOptions | undefined,
  frozen16 = false,
): MemoryEstimate {
  const w = trainWorkload(c, cfg, sizes, frozen16),
    est = estimateMemory(c, w);
  if (o?.check === false) return est;
  const limit = memoryLimit(o);
  if (est.total <= limit.bytes) return est;
  const one = largestMicroBatch(sizes, { ...cfg, microBatch: 1 });
  const options: [string, Workload][] = [
    ...(cfg.recompute
      ? []
      : [["train.recompute: true", { ...w, train: { ...w.train!, recompute: true } }] as [string, Workload]]),
    ["train.microBatch: 1 and recompute", { ...w, train: { ...one, recompute: true } }],
    ...(cfg.lora
      ? []
      : [
          [
            `LoRA r=${LORA_R} (train.lora) with recompute`,
            trainWorkload(
              c,
              { ...cfg, lora: LoraSettings.parse({ r: LORA_R, alpha: 2 * LORA_R }), recompute: true },
              sizes,
              frozen16,
            ),
          ] as [string, Workload],
        ]),
  ];
  throw new Error(
    refusal(
      what,
      est,
      limit,
      options.map(([label, x]) => [label, estimateMemory(c, x).total]),
    ),
  );
}

/** Upper bounds of a run's prompt lengths in tokens: x (the conversation alone) and x+ / x- (with a system message). */
export interface PromptBounds {
  plain: number;
  contrast: number;
}

/** The longest x and x+ / x- prompts of the run: each prompt with the k+1 longest library principles (k features,
 * maybe Concision), plus the principles' token budget when the policy writes its own. */
export function promptBounds(
  tok: Tokenizer,
  prompts: readonly { messages: ChatMessage[] }[],
  lib: FeatureLibrary,
  config: SynthConfig,
): PromptBounds {
  const n = Math.min(config.k + 1, lib.features.length);
  const longest = (pol: "pos" | "neg") => {
    const text = (f: FeatureLibrary["features"][number]) =>
      pol === "pos" ? f.good + f.goodPrinciple : f.bad + f.badPrinciple;
    const fs = [...lib.features].sort((a, b) => text(b).length - text(a).length).slice(0, n);
    return systemMessage(pol, fs, libraryPrinciples(fs));
  };
  const pos = longest("pos"),
    neg = longest("neg"),
    extra = config.queryPrinciples ? config.principles.maxNewTokens : 0;
  const b = { plain: 0, contrast: 0 };
  for (const p of prompts) {
    const m = contrastivePrompts(p.messages, pos, neg);
    b.plain = Math.max(b.plain, tok.encodePrompt(m.plain).length);
    b.contrast = Math.max(b.contrast, tok.encodePrompt(m.pos).length, tok.encodePrompt(m.neg).length);
  }
  return { plain: b.plain, contrast: b.contrast + extra };
}

/**
 * The synthesis workload: one sampling call of 3·batch slots (y+ from x+, y- from x-, y° from x) prefilled
 * together, and scoring batches (in-process engine). `frozen16`: a BF16/F16 folder, whose weights synthesis keeps
 * 16-bit.
 */
export function synthWorkload(c: ModelConfig, config: SynthConfig, b: PromptBounds, frozen16 = false): Workload {
  const maxNew = config.sampling.maxNewTokens,
    capacity = Math.min(c.maxPositionEmbeddings, b.contrast + maxNew),
    slots = RESPONSES.length * config.batch,
    prefillTokens = config.batch * (b.plain + 2 * Math.min(b.contrast, capacity - maxNew));
  const pair = Math.min(c.maxPositionEmbeddings, b.contrast + maxNew + 1),
    scoreTokens = Math.max(config.scoreBatchTokens, pair);
  const p = parameterSplit(c);
  return {
    trainable: 0,
    frozen: p.trainable + p.frozen,
    ...(frozen16 && { frozenBytes: 2 }),
    infer: { tokens: scoreTokens, rows: scoreTokens, slots, capacity, prefillTokens },
  };
}

/** Throws the one-line refusal when the synthesis estimate exceeds the limit; returns the estimate otherwise. */
export function checkSynthMemory(
  what: string,
  c: ModelConfig,
  config: SynthConfig,
  bounds: PromptBounds,
  o: MemoryOptions | undefined,
  frozen16 = false,
): MemoryEstimate {
  const est = estimateMemory(c, synthWorkload(c, config, bounds, frozen16));
  if (o?.check === false) return est;
  const limit = memoryLimit(o);
  if (est.total <= limit.bytes) return est;
  const smaller = Math.max(1, Math.floor(config.batch / 4));
  const alt = estimateMemory(c, synthWorkload(c, { ...config, batch: smaller }, bounds, frozen16)).total;
  throw new Error(refusal(what, est, limit, [[`synth.batch: ${smaller}`, alt]]));
}

/**
 * Records that synthesis of this config would write, as training sizes: every pair the objective reads with its
 * variant's longest prompt and a full response (for `sso iterate`, whose records do not exist yet).
 */
export function boundedRecordSize(c: ModelConfig, train: TrainConfig, synth: SynthConfig, b: PromptBounds): RecordSize {
  const pairs = pairsNeeded(objectiveConfig(train.objective)),
    response = synth.sampling.maxNewTokens + 1; // + the end-of-turn token the trainer scores
  const tokens = pairs.reduce(
    (n, p) => n + Math.min(c.maxPositionEmbeddings, (PAIRS[p].variant === "plain" ? b.plain : b.contrast) + response),
    0,
  );
  return { tokens, rows: pairs.length * response };
}

function refusal(what: string, est: MemoryEstimate, limit: MemoryLimit, options: [string, number][]): string {
  const fits = options.filter(([, b]) => b <= limit.bytes);
  const advice =
    fits.length > 0
      ? `would fit: ${fits.map(([l, b]) => `${l} (${gb(b)})`).join(", ")}`
      : `nothing tried fits either (${options.map(([l, b]) => `${l}: ${gb(b)}`).join(", ")})`;
  return `${what}: estimated peak memory ${gb(est.total)} (${describeEstimate(est)}) exceeds ${gb(limit.bytes)} (${limit.source}); ${advice}; or pass --memory-limit GB or --no-memory-check`;
}

/** One line of `sso info --model`: a configuration and its estimate. */
export interface MemoryReportLine {
  what: string;
  estimate: MemoryEstimate;
}

/**
 * Estimates of scoring, synthesis and training (as configured, with recomputation toggled, and with LoRA r=16 unless
 * train.lora is set) for a model config, assuming prompts of the given lengths and full-length responses.
 * `frozen16`: the folder is BF16/F16, so scoring, synthesis and a LoRA base hold its weights 16-bit.
 */
export function memoryReport(
  c: ModelConfig,
  config: { synth: SynthConfig; train: TrainConfig },
  b: PromptBounds,
  frozen16 = false,
): { limit: MemoryLimit; lines: MemoryReportLine[] } {
  const { synth, train } = config,
    all = parameterSplit(c),
    size = boundedRecordSize(c, train, synth, b),
    sizes = Array(train.microBatch).fill(size),
    w = trainWorkload(c, train, sizes, frozen16);
  const score = Math.max(synth.scoreBatchTokens, b.contrast + synth.sampling.maxNewTokens + 1);
  const lines: [string, Workload][] = [
    [
      `score (${score} tokens per batch)`,
      {
        trainable: 0,
        frozen: all.trainable + all.frozen,
        ...(frozen16 && { frozenBytes: 2 }),
        infer: { tokens: score, rows: score },
      },
    ],
    [
      `synth (batch ${synth.batch}, ${3 * synth.batch} sequences sampled together)`,
      synthWorkload(c, synth, b, frozen16),
    ],
    [
      `train${train.lora ? ` with LoRA r=${train.lora.r}` : ""} (micro-batch ${train.microBatch} records, ${size.tokens} tokens each, recompute ${train.recompute})`,
      w,
    ],
    [`train with recompute ${!train.recompute}`, { ...w, train: { ...w.train!, recompute: !train.recompute } }],
    ...(train.lora
      ? []
      : [
          [
            `train with LoRA r=${LORA_R}, recompute ${train.recompute}`,
            trainWorkload(c, { ...train, lora: LoraSettings.parse({ r: LORA_R, alpha: 2 * LORA_R }) }, sizes, frozen16),
          ] as [string, Workload],
        ]),
  ];
  return { limit: availableMemory(), lines: lines.map(([what, x]) => ({ what, estimate: estimateMemory(c, x) })) };
}
