// The PyTorch trainer's TypeScript half (`trainer: "torch"`): TypeScript stays the one source of tokenisation,
// record order, learning rates, the resolved objective and the run's fingerprint; PyTorch (python/sso_torch) does
// the steps. Writes OUT/torch/shard.bin (int32 token ids) + shard.json (per record and pair: offset, length,
// score-from index, reference log-prob sum) and plan.json, then runs `python3 -m sso_torch launch`, which starts
// one rank per process on this node. The ranks write OUT/metrics.jsonl, OUT/checkpoint and OUT/model exactly as
// trainSso does (same names and formats), so resuming, `sso iterate` and our loader work on either trainer's output.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { ModelConfig } from "../model/config.js";
import { CARRIED_FILES, readConfig, savedConfigText } from "../model/folder.js";
import { canonicalTargets, initLora, loraName, moduleShape } from "../model/lora.js";
import { frozenMatcher, paramSpecs } from "../model/params.js";
import { ADAPTER_WEIGHTS, adapterConfigJson, PEFT_PREFIX } from "../model/peft.js";
import { writeSafetensors } from "../model/safetensors.js";
import { mixSeed } from "../tensor/rng.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { readCheckpointState } from "../train/checkpoint.js";
import { checkpointNote, resumeState, stepPlan } from "../train/loop.js";
import { MetricsLog, readMetrics } from "../train/metrics.js";
import { writeFileAtomic } from "../util/atomic.js";
import { packageRoot } from "../util/package-root.js";
import { pairsNeeded } from "./objective.js";
import type { SsoRecord } from "./record.js";
import { PLAN_VERSION, TorchPlan } from "./torch-plan.js";
import { fingerprint, LORA_INIT_STREAM, recordSequences, type StepMetrics, type TrainOptions } from "./train.js";
import { objectiveConfig, type TorchSettings, type TrainConfig } from "./train-config.js";

const PYTHON_PATH = join(packageRoot(), "python");
const INSTALL = "apt-get install python3-torch, or pip install torch";

/** Throws a one-line error unless settings.python runs and imports torch (checked before any work). */
export function checkTorch(t: TorchSettings): void {
  const r = spawnSync(t.python, ["-c", "import sys, torch; sys.exit(0 if sys.version_info >= (3, 10) else 3)"], {
    encoding: "utf8",
  });
  if (r.error)
    throw new Error(
      `train.torch.python: cannot run ${t.python} (${r.error.message}); install Python ≥ 3.10 with PyTorch (${INSTALL})`,
    );
  if (r.status === 3) throw new Error(`train.torch.python: ${t.python} is older than Python 3.10`);
  if (r.status !== 0) throw new Error(`train.torch.python: ${t.python} cannot import torch; install it (${INSTALL})`);
  if (t.nodeRank >= t.nnodes) throw new Error(`train.torch.nodeRank: ${t.nodeRank} is not below nnodes ${t.nnodes}`);
  if (t.nnodes > 1 && t.masterPort === 0)
    throw new Error("train.torch.masterPort: several nodes need a fixed port (0 = any free port works on one node)");
}

/**
 * Trains the model folder `model` (or, resuming, OUT/checkpoint/model) on the records with PyTorch ranks;
 * returns the metrics of the steps run now. Failures are one line naming the rank.
 */
export function trainTorch(
  model: string,
  tok: Tokenizer,
  records: readonly SsoRecord[],
  cfg: TrainConfig,
  opts: TrainOptions,
): StepMetrics[] {
  if (records.length === 0) throw new Error("train: no records");
  const obj = objectiveConfig(cfg.objective),
    pairs = pairsNeeded(obj),
    plan = stepPlan(records.length, cfg),
    fp = fingerprint(records, cfg);
  const ckptDir = join(opts.out, "checkpoint"),
    work = join(opts.out, "torch");
  const saved = resumeState(ckptDir, fp, opts.resume);
  const start = saved?.step ?? 0;
  // The shard: every record's sequences for the pairs the objective reads, in record order.
  const ids: number[] = [],
    sequences: [number, number, number, number][] = [];
  for (const r of records) {
    for (const s of recordSequences(tok, r, pairs)) {
      sequences.push([ids.length, s.ids.length, s.scoreFrom, s.ref]);
      for (const id of s.ids) ids.push(id);
    }
  }
  mkdirSync(work, { recursive: true });
  writeFileAtomic(join(work, "shard.bin"), new Uint8Array(Int32Array.from(ids).buffer));
  writeFileAtomic(join(work, "shard.json"), JSON.stringify({ pairs, sequences }));
  const config = readConfig(model),
    frozen = frozenMatcher(cfg.freeze),
    t = cfg.torch;
  const lora = cfg.lora && loraPlan(config, cfg, work, saved ? join(ckptDir, "adapter") : undefined, opts.sourceDir);
  const steps = Array.from({ length: plan.total }, (_, i) => i + 1);
  const planPath = join(work, "plan.json");
  const torchPlan: TorchPlan = {
    version: PLAN_VERSION,
    out: opts.out,
    dir: work,
    init: saved && !lora ? join(ckptDir, "model") : model,
    tied: config.tieWordEmbeddings,
    configF32: savedConfigText(config, "F32"),
    configFinal: savedConfigText(config, cfg.saveDtype),
    saveDtype: cfg.saveDtype,
    carry: CARRIED_FILES.map((f) => join(opts.sourceDir, f)).filter((f) => existsSync(f)),
    objective: obj,
    pairs,
    optim: {
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
      maxGradNorm: cfg.maxGradNorm,
    },
    microBatch: cfg.microBatch,
    steps: steps.map(plan.batch),
    lrs: steps.map(plan.lr),
    stepsPerEpoch: plan.stepsPerEpoch,
    total: plan.total,
    start,
    saveEvery: cfg.saveEvery,
    fingerprint: fp,
    trainable: (lora ? lora.names : paramSpecs(config).map((s) => s.name)).filter((n) => !frozen(n)),
    threads: Math.max(1, Math.floor(availableParallelism() / t.nproc)),
    lora: lora ? lora.plan : null,
    torch: { ...t, gradientCheckpointing: t.gradientCheckpointing || cfg.recompute },
  };
  writeFileAtomic(planPath, JSON.stringify(TorchPlan.parse(torchPlan)));
  const metricsPath = join(opts.out, "metrics.jsonl");
  MetricsLog.open(metricsPath, saved ? start : undefined);
  const r = spawnSync(t.python, ["-m", "sso_torch", "launch", planPath], {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: [PYTHON_PATH, process.env.PYTHONPATH].filter(Boolean).join(":") },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    const line =
      r.stdout?.trim().split("\n").pop() ||
      r.stderr?.trim().split("\n").pop() ||
      `the launcher ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.status ?? r.error?.message}`}`;
    throw new Error(`train (torch): ${line}; ${checkpointNote(readCheckpointState(ckptDir)?.step ?? 0, ckptDir)}`);
  }
  return readMetrics(metricsPath).filter((m) => m.step > start) as unknown as StepMetrics[];
}

/**
 * train.lora for the ranks: the adapter to start from — resuming, the checkpoint's; else a fresh one as the TypeScript
 * trainer initialises it (initLora with the same seed), written as OUT/torch/adapter-init.safetensors with PEFT's
 * keys — the adapter_config.json text src/model/peft.ts writes, and the adapter's parameter names in canonical order.
 */
function loraPlan(config: ModelConfig, cfg: TrainConfig, work: string, resumeFrom: string | undefined, base: string) {
  const s = cfg.lora!,
    targets = canonicalTargets(s.targets);
  let init = join(work, "adapter-init.safetensors");
  if (resumeFrom) init = join(resumeFrom, ADAPTER_WEIGHTS);
  else {
    const fresh = initLora(config, s, mixSeed(cfg.seed, LORA_INIT_STREAM));
    const tensors = [...fresh].map(([name, data]) => {
      const m = targets.find((t) => name.includes(`.${t}.`))!,
        [o, i] = moduleShape(config, m);
      return { name: PEFT_PREFIX + name, shape: name.endsWith("lora_A.weight") ? [s.r, i] : [o, s.r], data };
    });
    writeSafetensors(init, tensors, { dtype: "F32" });
  }
  const names: string[] = [];
  for (let l = 0; l < config.numLayers; l++)
    for (const m of targets) for (const ab of ["A", "B"] as const) names.push(loraName(l, m, ab));
  const configText = `${JSON.stringify(adapterConfigJson({ ...s, targets }, base), null, 2)}\n`;
  return { names, plan: { r: s.r, alpha: s.alpha, targets, rslora: s.rslora, init, configText } };
}
