// Reward models as Hugging Face folders and their rewards. A reward model is our decoder with the score head
// (ModelConfig.scoreHead: `score.weight` (1, hidden), no bias, no lm_head), saved as transformers'
// `Qwen2ForSequenceClassification` / `LlamaForSequenceClassification` / `MistralForSequenceClassification` with
// one label and pad_token_id: the names and fields AutoModelForSequenceClassification and vLLM's classify runner
// read (checked against a PyTorch twin of transformers' pooling, test/rm/torch.test.ts, not against those
// libraries); folders they wrote (e.g. Skywork's RMs) load here. A reward is the score of the pooled token (head.ts)
// of the conversation as the chat template renders it whole (rewardIds; checked against transformers'
// src/transformers/modeling_layers.py GenericForSequenceClassification.forward, the rightmost non-pad token, and
// TRL's trl/trainer/reward_trainer.py + trl/data_utils.py _tokenize: apply_chat_template(prompt + chosen)).
// Not here: data, training (train.ts), files of rewards (score.ts, eval.ts).

import { join } from "node:path";
import type { Backend } from "../backends/backend.js";
import { getBackend } from "../backends/index.js";
import { type ModelConfig, parseConfig } from "../model/config.js";
import { loadModel, readConfig } from "../model/folder.js";
import { Model } from "../model/model.js";
import type { Params } from "../model/params.js";
import { Rng } from "../tensor/rng.js";
import type { ChatMessage, Tokenizer } from "../tokenizer/tokenizer.js";
import { poolRow, scoreForward } from "./head.js";

const ARCHITECTURES: Record<ModelConfig["modelType"], string> = {
  qwen2: "Qwen2ForSequenceClassification",
  llama: "LlamaForSequenceClassification",
  mistral: "MistralForSequenceClassification",
};

/** The pad_token_id a reward model pools by (transformers: the rightmost token that is not it), if any. */
export function padIdOf(config: ModelConfig): number | undefined {
  const p = config.raw.pad_token_id;
  return typeof p === "number" ? p : undefined;
}

/** Loads a reward-model folder; a causal LM folder is refused with what to do instead. */
export function loadRewardModel(dir: string, backend: Backend | string): Model {
  checkRewardFolder(dir);
  return loadModel(dir, typeof backend === "string" ? getBackend(backend) : backend);
}

/** Throws (one line, saying what to do) unless dir's config.json describes a reward model. */
export function checkRewardFolder(dir: string): void {
  const config = readConfig(dir);
  rewardPosition(config, join(dir, "config.json"));
  if (!config.scoreHead) {
    const arch = Array.isArray(config.raw.architectures) ? config.raw.architectures[0] : config.modelType;
    throw new Error(
      `${dir}: ${arch} is not a reward model (no score head): train one with \`sso rm train --model ${dir} …\` or convert one to a *ForSequenceClassification folder`,
    );
  }
}

/** A reward model's config.json for a causal LM's: its architecture's sequence classifier, one label, padId. */
export function rewardConfig(lm: ModelConfig, padId: number): ModelConfig {
  const raw = {
    ...lm.raw,
    architectures: [ARCHITECTURES[lm.modelType]],
    num_labels: 1,
    id2label: { "0": "LABEL_0" },
    label2id: { LABEL_0: 0 },
    pad_token_id: padId,
    [REWARD_POSITION_KEY]: "last_token",
  };
  return parseConfig(raw, "reward model config");
}

/**
 * A reward model from a causal LM: the same decoder (shared arrays, not copies), lm_head dropped, and a score
 * head drawn from N(0, initializer_range²) with the seed, as transformers initialises a fresh `score` Linear.
 */
export function rewardModelFromCausal(lm: Model, padId: number, seed: number): Model {
  const config = rewardConfig(lm.config, padId);
  const params: Params = new Map([...lm.params].filter(([name]) => name !== "lm_head.weight"));
  params.set("score.weight", new Rng(seed).normalArray(config.hiddenSize, config.initializerRange));
  return new Model(config, params, lm.backend);
}

/** A reward model from a folder that holds one, or from a causal LM folder (score head from the seed). */
export function openForTraining(dir: string, backend: string, padId: number | undefined, seed: number): Model {
  const config = readConfig(dir);
  if (config.scoreHead) return loadModel(dir, getBackend(backend));
  const pad = typeof config.raw.pad_token_id === "number" ? config.raw.pad_token_id : padId;
  if (pad === undefined)
    throw new Error(`${dir}: neither config.json nor the tokenizer names a pad token; set pad_token_id in config.json`);
  return rewardModelFromCausal(loadModel(dir, getBackend(backend)), pad, seed);
}

/**
 * Where a reward is read, recorded in the RM folder's config.json under REWARD_POSITION_KEY (transformers ignores
 * the key). "last_token" (every folder sso writes now, and any folder without the key — one TRL, Skywork or
 * RewardBench made): the conversation with the answer rendered as apply_chat_template(messages + [assistant],
 * add_generation_prompt=False) renders it, read at the last non-pad token, as transformers' *ForSequenceClassification
 * pools and TRL's RewardTrainer trains (for ChatML that is the "\n" the template writes after <|im_end|>; for
 * Llama 3 <|eot_id|> itself). "end_of_turn": the convention of RMs sso trained before 2026-12-06 — prompt with
 * generation prompt, answer, end-of-turn token, nothing after it. Such a folder has no key and is read as
 * "last_token" unless the key is added to its config.json by hand (docs/RESULTS.md, README).
 */
export const REWARD_POSITION_KEY = "sso_reward_position";
export type RewardPosition = "last_token" | "end_of_turn";

/** The folder's reward position (see REWARD_POSITION_KEY); one line naming the file for an unknown value. */
export function rewardPosition(config: ModelConfig, source: string): RewardPosition {
  const v = config.raw[REWARD_POSITION_KEY];
  if (v === undefined) return "last_token";
  if (v === "last_token" || v === "end_of_turn") return v;
  throw new Error(`${source}: ${REWARD_POSITION_KEY} must be "last_token" or "end_of_turn", got ${JSON.stringify(v)}`);
}

/** What a reward model scores: the conversation with the answer, as the position's convention renders it. */
export function rewardIds(
  tok: Tokenizer,
  messages: ChatMessage[],
  response: string,
  position: RewardPosition = "last_token",
): number[] {
  if (position === "end_of_turn") {
    const { promptIds, responseIds } = tok.encodeChat(messages, response);
    return [...promptIds, ...responseIds];
  }
  const conversation = [...messages, { role: "assistant", content: response }];
  return tok.encode(tok.applyChatTemplate(conversation, { addGenerationPrompt: false }));
}

/** rewardIds in a loaded reward model's convention. */
export function rewardEncoder(
  tok: Tokenizer,
  model: Model,
  source: string,
): (messages: ChatMessage[], response: string) => number[] {
  const position = rewardPosition(model.config, source);
  return (messages, response) => rewardIds(tok, messages, response, position);
}

/** The rewards of token sequences (prompt + response each), in order, batched by at most maxBatchTokens. */
export function rewards(model: Model, seqs: readonly (readonly number[])[], maxBatchTokens = 4096): Float64Array {
  const C = model.config.hiddenSize,
    pad = padIdOf(model.config),
    score = model.params.get("score.weight")!;
  const out = new Float64Array(seqs.length);
  let start = 0;
  while (start < seqs.length) {
    let end = start,
      tokens = 0;
    while (end < seqs.length && (end === start || tokens + seqs[end].length <= maxBatchTokens))
      tokens += seqs[end++].length;
    const batch = seqs.slice(start, end).map((ids) => ({ ids, row: poolRow(ids, pad) }));
    out.set(scoreForward(model.forwardRows(batch).hidden, score, batch.length, C), start);
    start = end;
  }
  return out;
}
