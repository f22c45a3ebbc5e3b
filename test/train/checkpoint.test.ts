// Training checkpoints are swapped in atomically (src/util/atomic.ts writeDirAtomic); a kill inside the swap
// leaves `.checkpoint.PID.T.tmp` / `.checkpoint.PID.T.tmp.old` folders beside it (model + optimizer moments: tens of
// MB). They are removed when a checkpoint is next saved or read for a resume, and the previous checkpoint is put
// back when the kill fell between the swap's two renames. Leftovers of a process that still runs are kept.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { readCheckpointState, saveCheckpoint, type TrainerState } from "../../src/train/checkpoint.js";
import { AdamW } from "../../src/train/optimizer.js";
import { makeTinyModel, tempDir } from "../helpers.js";

const DEAD_PID = 999_999_999; // above any pid_max, so never a running process

/** A fake leftover folder of a killed swap, with a file in it. */
function leftover(out: string, name: string): string {
  const dir = join(out, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "optimizer.safetensors"), Buffer.alloc(1024));
  return dir;
}

const state = (step: number): TrainerState => ({ step, totalSteps: 10, fingerprint: "f" });

function writeState(dir: string, step: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "trainer_state.json"), JSON.stringify(state(step)));
}

describe("checkpoint leftovers", () => {
  it("saving a checkpoint removes the temp folders of a killed swap (of dead processes only)", () => {
    const out = tempDir("sso-ckpt-"),
      ckpt = join(out, "checkpoint");
    const model = loadModel(makeTinyModel(1), getBackend("cpu"));
    const opt = new AdamW(model.backend, model.params, model.params.keys(), {
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0,
      maxGradNorm: 1,
    });
    saveCheckpoint(ckpt, model, opt, state(1), undefined);
    leftover(out, `.checkpoint.${DEAD_PID}.m1abc.tmp.old`);
    leftover(out, `.checkpoint.${DEAD_PID}.m1abd.tmp`);
    const live = `.checkpoint.${process.ppid}.m1abe.tmp`; // the test runner: a writer that still runs
    leftover(out, live);
    saveCheckpoint(ckpt, model, opt, state(2), undefined);
    assert.deepEqual(readdirSync(out).sort(), [live, "checkpoint"]);
    assert.equal(readCheckpointState(ckpt)?.step, 2);
  });

  it("reading the checkpoint for a resume removes them too", () => {
    const out = tempDir("sso-ckpt-"),
      ckpt = join(out, "checkpoint");
    writeState(ckpt, 3);
    leftover(out, `.checkpoint.${DEAD_PID}.x.tmp.old`);
    leftover(out, `.checkpoint.${DEAD_PID}.y.tmp`);
    leftover(out, ".checkpoint-notes.tmp"); // not ours: kept
    assert.equal(readCheckpointState(ckpt)?.step, 3);
    assert.deepEqual(readdirSync(out).sort(), [".checkpoint-notes.tmp", "checkpoint"]);
  });

  it("a kill between the swap's renames: the previous checkpoint is put back, the new partial one removed", () => {
    const out = tempDir("sso-ckpt-"),
      ckpt = join(out, "checkpoint");
    writeState(join(out, `.checkpoint.${DEAD_PID}.a.tmp.old`), 4); // the previous checkpoint, moved aside
    writeState(join(out, `.checkpoint.${DEAD_PID}.b.tmp`), 6); // the new one, not yet renamed into place
    assert.ok(!existsSync(ckpt));
    assert.equal(readCheckpointState(ckpt)?.step, 4);
    assert.deepEqual(readdirSync(out), ["checkpoint"]);
  });
});
