// The principle world (issue 7): seeded prompts from task families with train / held-out splits (world.ts), a
// rule-based per-feature checker (check.ts), templated good and defective answers (answers.ts), the demo model's
// SFT corpus (corpus.ts) and model evaluation (evaluate.ts). This file only re-exports; it holds no logic.

export * from "./answers.js";
export * from "./check.js";
export * from "./corpus.js";
export * from "./evaluate.js";
export * from "./words.js";
export * from "./world.js";
