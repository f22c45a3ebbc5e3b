// Training checkpoints: one folder holding the model (a Hugging Face folder), the optimizer moments and a small
// state file (step, config, data fingerprint), replaced atomically as a whole so that a crash at any moment leaves
// either the previous checkpoint or the new one, never a mixture. Resuming from it continues the run exactly.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { saveModel } from "../model/checkpoint.js";
import type { Model } from "../model/model.js";
import { writeDirAtomic, writeFileAtomic } from "../util/atomic.js";
import type { AdamW } from "./optimizer.js";

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  totalSteps: number;
  /** Identifies the run's inputs; resuming with other data or settings is refused. */
  fingerprint: string;
}

export function saveCheckpoint(dir: string, model: Model, opt: AdamW, state: TrainerState, carryFrom: string | undefined): void {
  writeDirAtomic(dir, (tmp) => {
    saveModel(model, join(tmp, "model"), { dtype: "F32", carryFrom });
    opt.save(join(tmp, "optimizer.safetensors"));
    writeFileAtomic(join(tmp, "trainer_state.json"), JSON.stringify(state, null, 2) + "\n");
  });
}

/** The state of the checkpoint in dir, or undefined when there is none. */
export function readCheckpointState(dir: string): TrainerState | undefined {
  const path = join(dir, "trainer_state.json");
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as TrainerState;
  } catch (e) {
    throw new Error(`${path}: unreadable checkpoint state (${(e as Error).message.split("\n")[0]})`);
  }
}
