// The public API of `sso` as a library: what the commands are built from, for TypeScript users who want the SSO
// loop (or a part of it) inside their own program. Everything here takes typed, resolved config objects (see
// `resolveConfig` and the zod schemas); the commands in src/cli/ only parse flags and call these. Not exported:
// kernels, the native addon, the HTTP server's internals, file formats' private helpers.

// Compute backends, models and tokenizers.
export { BACKEND_NAMES, getBackend, probeBackends, type Backend, type BackendName } from "./backends/index.js";
export { initModel, loadModel, readConfig, saveModel, type SaveOptions } from "./model/folder.js";
export { parseConfig, type ModelConfig } from "./model/config.js";
export { Model, type SequenceInput, type SequenceOutput } from "./model/model.js";
export { Tokenizer, type ChatMessage } from "./tokenizer/tokenizer.js";

// Scoring and generation.
export { scoreItems, type ScoreItem, type ScoreResult } from "./model/score.js";
export { generate, type FinishReason, type GenerationRequest, type GenerationResult } from "./sample/generate.js";
export type { SamplingParams } from "./sample/sampling.js";

// Configuration.
export { IterateConfig, loadConfig, resolveConfig, SsoConfig } from "./config.js";
export { SynthConfig } from "./sso/config.js";
export { objectiveConfig, ObjectiveSettings, TrainConfig } from "./sso/train-config.js";

// Self-Steering Optimization: the pairs, the objective, synthesis, training and the loop.
export { PAIR_NAMES, PAIRS, pairLabel, REF_COLUMNS, type Pair, type RefColumn } from "./sso/pairs.js";
export { BASE_LOSSES, PRESETS, pairsNeeded, ssoObjective, type ObjectiveConfig, type RecordLogps } from "./sso/objective.js";
export { SsoRecord } from "./sso/record.js";
export { synthesize, type SynthOptions, type SynthPrompt } from "./sso/synth.js";
export type { SynthSummary } from "./sso/synth-summary.js";
export { runSynth, type RemoteOptions, type SynthRun } from "./sso/run-synth.js";
export { trainSso, type StepMetrics, type TrainOptions } from "./sso/train.js";
export { runTrain, type TrainRun } from "./sso/run-train.js";
export { runIterate, type IterateRun, type IterationSummary } from "./sso/iterate.js";

// Evaluation.
export { evaluateExact, evaluateWorld, exactMatch, type ExactItem, type ExactSummary, type WorldSummary } from "./world/evaluate.js";
export { heldOutPrompts, trainPrompts } from "./world/world.js";
