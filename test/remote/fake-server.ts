// A fake vLLM or SGLang server as a process, for `sso iterate --server-command`: `node fake-server.js KIND MODEL
// PORT NAME [--stale] [--no-lora] [--warmup-ms N] [--die]`. An in-process `sso serve` (with its swap routes) computes
// behind the fake (fakes.ts). --warmup-ms: refuses connections for the first half, answers 503 on the health route
// for the second; --die: writes an error and exits 1 during start-up. SIGTERM exits 0.
import { resolve } from "node:path";
import { getBackend } from "../../src/backends/index.js";
import { loadModel, readConfig } from "../../src/model/folder.js";
import { serve } from "../../src/serve/server.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { fakeSglang, fakeVllm } from "./fakes.js";

const [kind, model, port, name, ...flags] = process.argv.slice(2);
const has = (f: string) => flags.includes(f);
const warmupMs = has("--warmup-ms") ? Number(flags[flags.indexOf("--warmup-ms") + 1]) : 0;
const t0 = Date.now();

if (has("--die")) {
  console.error("fake: RuntimeError: CUDA error: out of memory");
  setTimeout(() => process.exit(1), 100);
} else {
  const tok = Tokenizer.fromDir(model);
  const inner = await serve({
    model: loadModel(model, getBackend("cpu"), { keep16: true }),
    tok,
    modelName: "inner",
    port: 0,
    modelPath: resolve(model),
    backend: "cpu",
    allowRuntimeUpdates: true,
  });
  await new Promise((r) => setTimeout(r, warmupMs / 2));
  const o = {
    stale: has("--stale"),
    lora: !has("--no-lora"),
    warming: () => Date.now() - t0 < warmupMs,
    modelPath: resolve(model),
    verbose: true,
  };
  const len = readConfig(model).maxPositionEmbeddings;
  const fake = await (kind === "sglang" ? fakeSglang : fakeVllm)(inner.url, name, len, o, Number(port));
  console.log(`fake ${kind}: ${name} on ${fake.url}${o.stale ? " (stale)" : ""}`);
  process.once("SIGTERM", () => {
    fake.server.closeAllConnections();
    void Promise.all([fake.close(), inner.close()]).then(() => process.exit(0));
  });
}
