// The objective's golden fixture, test/fixtures/golden/objective.json: fixed batches of per-pair log-prob sums
// (seeded) and, for every preset and a few overridden variants, ssoObjective's loss, parts and per-record
// derivatives. TypeScript (src/sso/objective.ts) is the source of truth; the Python port
// (python/sso_torch/objective.py) is checked against this file by python/tests/test_objective_golden.py, which
// needs no torch, and test/sso/torch-objective.test.ts checks that the file is what TypeScript computes now.
// Regenerate after changing the objective: `node dist/tools/objective-golden.js`.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ObjectiveConfig, PRESETS, type RecordLogps, ssoObjective } from "../src/sso/objective.js";
import { PAIR_NAMES } from "../src/sso/pairs.js";
import { Rng } from "../src/tensor/rng.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { packageRoot } from "../src/util/package-root.js";

export const OBJECTIVE_GOLDEN = join(packageRoot(), "test", "fixtures", "golden", "objective.json");

/** Every preset, plus variants that reach the options no preset sets (steering-scoped detached W, SFT, DPO). */
export function objectiveVariants(): Record<string, ObjectiveConfig> {
  return {
    ...PRESETS,
    "sso-steering-detached-sft": { ...PRESETS.sso, weightScope: "steering", detachWeight: true, gamma: 0.3 },
    "sso-dpo-alpha": { ...PRESETS.sso, base: "dpo", beta: 0.5, alpha: 0.2, theta: 0.7 },
    "generator-sft": { ...PRESETS["sso-v2-generator"], gamma: 0.5 },
  };
}

/** The fixture's content: {batches, cases: [{name, config, results: [{loss, parts, grads}] per batch]}}. */
export function objectiveGolden() {
  const rng = new Rng(20261206);
  const batches: RecordLogps[][] = Array.from({ length: 4 }, (_, b) =>
    Array.from({ length: 1 + b }, () =>
      Object.fromEntries(
        PAIR_NAMES.map((p) => {
          const n = 1 + rng.int(30);
          return [p, { policy: -n * (0.5 + 2 * rng.uniform()), ref: -n * (0.5 + 2 * rng.uniform()), n }];
        }),
      ),
    ),
  );
  const cases = Object.entries(objectiveVariants()).map(([name, config]) => ({
    name,
    config,
    results: batches.map((batch) => {
      const r = ssoObjective(batch, config);
      return { loss: r.loss, parts: r.parts, grads: r.grads };
    }),
  }));
  return { batches, cases };
}

export const objectiveGoldenText = (): string => `${JSON.stringify(objectiveGolden(), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileAtomic(OBJECTIVE_GOLDEN, objectiveGoldenText());
  console.log(`wrote ${OBJECTIVE_GOLDEN}`);
}
