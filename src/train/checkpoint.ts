// Training checkpoints: one folder holding the model (a Hugging Face folder; with LoRA only the adapter, a PEFT
// folder, since the frozen base is the run's input), the optimizer moments and a small
// state file (step, config, data fingerprint), replaced atomically as a whole so that a crash at any moment leaves
// either the previous checkpoint or the new one, never a mixture. Resuming from it continues the run exactly.
// A kill inside the swap leaves the temporary folders beside it (`.checkpoint.PID.T.tmp[.old]`, as big as the
// model and its optimizer moments); they are removed whenever a checkpoint is next saved or read (a resume), and
// the old one put back when the kill fell between the swap's two renames.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { saveModel } from "../model/folder.js";
import type { Model } from "../model/model.js";
import { writeAdapter } from "../model/peft.js";
import { cleanAtomicLeftovers, writeDirAtomic, writeFileAtomic } from "../util/atomic.js";
import type { AdamW } from "./optimizer.js";

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  totalSteps: number;
  /** Identifies the run's inputs; resuming with other data or settings is refused. */
  fingerprint: string;
}

export function saveCheckpoint(
  dir: string,
  model: Model,
  opt: AdamW,
  state: TrainerState,
  carryFrom: string | undefined,
): void {
  cleanCheckpointLeftovers(dir);
  writeDirAtomic(dir, (tmp) => {
    if (model.lora) writeAdapter(join(tmp, "adapter"), model, { baseModel: carryFrom ?? "" });
    else saveModel(model, join(tmp, "model"), { dtype: "F32", carryFrom });
    opt.save(join(tmp, "optimizer.safetensors"));
    writeFileAtomic(join(tmp, "trainer_state.json"), `${JSON.stringify(state, null, 2)}\n`);
  });
}

/**
 * Removes the temporary folders a killed checkpoint swap left beside dir (restoring the previous checkpoint if the
 * kill fell between the renames). saveCheckpoint and readCheckpointState call it; call it when a run finishes too.
 */
export function cleanCheckpointLeftovers(dir: string): void {
  cleanAtomicLeftovers(dir);
}

/** The state of the checkpoint in dir, or undefined when there is none. */
export function readCheckpointState(dir: string): TrainerState | undefined {
  cleanCheckpointLeftovers(dir);
  const path = join(dir, "trainer_state.json");
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as TrainerState;
  } catch (e) {
    throw new Error(`${path}: unreadable checkpoint state (${(e as Error).message.split("\n")[0]})`);
  }
}
