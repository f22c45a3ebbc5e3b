// `npm run bench -- <suite>`: runs one benchmark suite. Each suite prints a table and ends with one JSON line
// (name → value) so results can be compared run to run.
import { benchBig } from "./big.js";
import { benchGenerate } from "./generate.js";
import { benchIteration } from "./iteration.js";
import { benchKernels } from "./kernels.js";
import { benchServe } from "./serve.js";
import { benchShare } from "./share.js";
import { benchTrain } from "./train.js";
import { benchUi } from "./ui.js";

const SUITES: Record<string, () => void | Promise<void>> = {
  kernels: benchKernels,
  train: benchTrain,
  generate: benchGenerate,
  serve: benchServe,
  share: benchShare,
  big: () => benchBig(process.argv.slice(3)),
  ui: () => benchUi(process.argv.slice(3)),
  iteration: () => benchIteration(process.argv.slice(3)),
};

const suite = process.argv[2] ?? "kernels";
const run = SUITES[suite];
if (!run) {
  console.error(`bench: unknown suite "${suite}" (expected one of: ${Object.keys(SUITES).join(", ")})`);
  process.exit(2);
}
try {
  await run();
} catch (e) {
  console.error(`bench ${suite}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
