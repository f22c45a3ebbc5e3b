// Writes python/sso_torch/plan.schema.json from the TorchPlan zod schema (src/sso/torch-plan.ts), the file the
// Python half checks every plan.json against. Run after changing TorchPlan: `node dist/tools/torch-plan-schema.js`.
import { join } from "node:path";
import { planJsonSchema } from "../src/sso/torch-plan.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { packageRoot } from "../src/util/package-root.js";

const path = join(packageRoot(), "python", "sso_torch", "plan.schema.json");
writeFileAtomic(path, planJsonSchema());
console.log(`wrote ${path}`);
