// `sso train --model DIR --data DATA.jsonl --out DIR`: SSO training on synthesised records (with their reference
// log-probs). OUT/model is the trained model folder, OUT/metrics.jsonl one line per step, OUT/checkpoint the
// latest checkpoint; `--resume` continues from it exactly.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { getBackend } from "../backends/index.js";
import { loadConfig } from "../config.js";
import { loadModel } from "../model/checkpoint.js";
import { validate } from "../sso/file.js";
import { SsoRecord } from "../sso/record.js";
import { trainSso } from "../sso/train.js";
import { TrainConfig } from "../sso/train-config.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";
import { readJsonl } from "../util/jsonl.js";

export interface TrainCliOptions {
  model: string;
  data: string;
  out: string;
  config?: string;
  resume: boolean;
  backend?: string;
  preset?: string;
  lr?: number;
  epochs?: number;
  batchSize?: number;
  seed?: number;
}

export function runTrain(opts: TrainCliOptions): void {
  const config = loadConfig(opts.config);
  const cfg = validate({
    ...config.train,
    ...(opts.lr !== undefined && { lr: opts.lr }),
    ...(opts.epochs !== undefined && { epochs: opts.epochs }),
    ...(opts.batchSize !== undefined && { batchSize: opts.batchSize }),
    ...(opts.seed !== undefined && { seed: opts.seed }),
    objective: { ...config.train.objective, ...(opts.preset !== undefined && { preset: opts.preset }) },
  }, TrainConfig, "command line");
  const records = readJsonl(opts.data, SsoRecord).map((l) => l.value);
  const ckpt = join(opts.out, "checkpoint");
  const resuming = opts.resume && existsSync(join(ckpt, "trainer_state.json"));
  if (!opts.resume && existsSync(ckpt)) throw new Error(`${ckpt} exists: pass --resume to continue it, or choose another --out`);
  const model = loadModel(resuming ? join(ckpt, "model") : opts.model, getBackend(opts.backend ?? config.backend));
  const tok = Tokenizer.fromDir(opts.model);
  const t0 = performance.now();
  const steps = trainSso(model, tok, records, cfg, { out: opts.out, sourceDir: opts.model, resume: resuming });
  const last = steps[steps.length - 1];
  console.error(`trained ${steps.length} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s${last ? ` (final loss ${last.loss.toFixed(4)}, W ${last["sso/W"].toFixed(3)})` : ""} → ${join(opts.out, "model")}`);
}
