// The public API of `sso` as a library: what the commands are built from, for TypeScript users who want the SSO
// loop (or a part of it) inside their own program. Everything here takes typed, resolved config objects (see
// `resolveConfig` and the zod schemas); the commands in src/cli/ only parse flags and call these. Not exported:
// kernels, the native addon, the HTTP server's internals, file formats' private helpers. Sorted by module path:
// backends, config, data, eval, hub, model, sample, sso, tokenizer, world.

export { BACKEND_NAMES, type Backend, type BackendName, getBackend, probeBackends } from "./backends/index.js";
export { IterateConfig, loadConfig, resolveConfig, SsoConfig } from "./config.js";
export { type PromptRecord, preparePrompts, readPromptRecords } from "./data/prompts.js";
export { runRmExperiment } from "./demo/rm-experiment.js";
export { type AnswerRow, pairUp, readAnswers } from "./eval/answers.js";
export { type ChatJudge, openAiChat } from "./eval/client.js";
export { type GradeSummary, gradeAnswers, summarizeGrades } from "./eval/grade.js";
export { JudgmentCache } from "./eval/judge.js";
export { type AnswerFormat, extractBoxed, extractChoice, extractGsm8k, gradeAnswer, mathEqual } from "./eval/math.js";
export { type ModelEvalOptions, runModelEval } from "./eval/model-eval.js";
export {
  judgePairs,
  llmPairJudge,
  type PairItem,
  type PairJudge,
  type PairOutcome,
  type PairwiseSummary,
  summarizePairs,
} from "./eval/pairwise.js";
export { runGrade, runMath, runPairwise } from "./eval/run.js";
export { bootstrapInterval, lengthControlled, meanWithInterval, pairedBootstrap } from "./eval/stats.js";
export { worldPairJudge } from "./eval/world-judge.js";
export { resolveDatasetFiles } from "./hub/dataset.js";
export { resolveModel } from "./hub/resolve.js";
export { type ModelConfig, parseConfig } from "./model/config.js";
export { initModel, type LoadOptions, loadModel, readConfig, type SaveOptions, saveModel } from "./model/folder.js";
export { attachLora, initLora, LoraSettings, loraScale, mergeLora } from "./model/lora.js";
export {
  availableMemory,
  estimateMemory,
  type MemoryEstimate,
  type MemoryLimit,
  parameterSplit,
  type Workload,
} from "./model/memory.js";
export { loadMerged, type MergeRun, mergeAdapter } from "./model/merge.js";
export { Model, type SequenceInput, type SequenceOutput } from "./model/model.js";
export { type OpenOptions, openModel, openTokenizer } from "./model/open.js";
export { type Adapter, readAdapter, writeAdapter } from "./model/peft.js";
export { type ScoreItem, type ScoreResult, scoreItems } from "./model/score.js";
export { type ScoreFileOptions, scoreFile } from "./model/score-file.js";
export { type DataSpec, mixPairs, type PrefPair, readPairs } from "./rm/data.js";
export { evalRewardModel, type RewardEvalSummary, summarizeRewardEval } from "./rm/eval.js";
export { bradleyTerry, poolRow } from "./rm/head.js";
export { loadRewardModel, rewardModelFromCausal, rewards } from "./rm/model.js";
export { type RmTrainRun, runRmTrain } from "./rm/run-train.js";
export { scoreRewardFile } from "./rm/score.js";
export { RmTrainConfig, trainRewardModel } from "./rm/train.js";
export { type FinishReason, type GenerationRequest, type GenerationResult, generate } from "./sample/generate.js";
export { type GenerateFileOptions, generateFile } from "./sample/generate-file.js";
export type { SamplingParams } from "./sample/sampling.js";
export { SynthConfig } from "./sso/config.js";
export { type IterateRun, type IterationSummary, runIterate } from "./sso/iterate.js";
export { type MemoryOptions, memoryReport } from "./sso/memory-check.js";
export {
  BASE_LOSSES,
  type ObjectiveConfig,
  PRESETS,
  pairsNeeded,
  type RecordLogps,
  ssoObjective,
} from "./sso/objective.js";
export { PAIR_NAMES, PAIRS, type Pair, pairLabel, REF_COLUMNS, type RefColumn } from "./sso/pairs.js";
export { SsoRecord } from "./sso/record.js";
export { type RemoteOptions, runSynth, type SynthRun } from "./sso/run-synth.js";
export { runTrain, type TrainRun } from "./sso/run-train.js";
export { type SynthOptions, type SynthPrompt, synthesize } from "./sso/synth.js";
export type { SynthSummary } from "./sso/synth-summary.js";
export { type StepMetrics, type TrainOptions, trainSso } from "./sso/train.js";
export { ObjectiveSettings, objectiveConfig, TrainConfig } from "./sso/train-config.js";
export type { Half, Weight } from "./tensor/dtype.js";
export { type ChatMessage, Tokenizer } from "./tokenizer/tokenizer.js";
export {
  type ExactItem,
  type ExactSummary,
  evaluateExact,
  evaluateWorld,
  exactMatch,
  type WorldSummary,
} from "./world/evaluate.js";
export { heldOutPool, heldOutPrompts, trainPrompts } from "./world/world.js";
