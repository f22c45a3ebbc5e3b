// Helpers of the synthesis tests: a hand-made record, and (re-exported) the shared tiny random model folder, whose
// TinyShape shorthand ({hidden, layers, intermediate}) these tests use.
import type { SsoRecord } from "../../src/sso/record.js";

export { makeTinyModel } from "../helpers.js";

export function sampleRecord(): SsoRecord {
  return {
    id: "7",
    prompt_index: 6,
    iteration: 1,
    prompt: [{ role: "user", content: "How tall is Everest?" }],
    chosen: [{ role: "assistant", content: "About 8,849 m." }],
    rejected: [{ role: "assistant", content: "Roughly 3 km, give or take." }],
    raw: [{ role: "assistant", content: "8,849 metres." }],
    features: ["Accuracy", "Concision"],
    principle_sources: ["library", "library"],
    system_pos: "Your answer should be accurate and concise.",
    system_neg: "Your answer should be inaccurate and verbose.",
    finish_reasons: { chosen: "eos", rejected: "length", raw: "eos" },
    sampling: { temperature: 0.7, top_p: 0.8, top_k: 0, max_new_tokens: 256, raw_greedy: false },
    seed: 0,
    sample_seeds: { chosen: 1, rejected: 2, raw: 3 },
    policy_model: "models/tiny",
    policy_hash: "a".repeat(64),
    ref_chosen_logps: -10.5,
    ref_rejected_logps: -20.25,
    ref_pos_chosen_logps: -9,
    ref_pos_rejected_logps: -22,
    ref_neg_chosen_logps: -12,
    ref_neg_rejected_logps: -18,
    ref_neg_raw_logps: -11,
    chosen_n_tokens: 6,
    rejected_n_tokens: 9,
    raw_n_tokens: 5,
  };
}
