// AdamW over a model's trainable parameters: moment buffers per tensor, the step count, global-norm clipping, and
// saving/restoring that state exactly (fp32 safetensors + the step), so a resumed run continues bit for bit.
import { existsSync } from "node:fs";
import type { Backend } from "../backends/backend.js";
import type { Params } from "../model/params.js";
import { readSafetensors, writeSafetensors } from "../model/safetensors.js";
import { clipGradNorm } from "./clip.js";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 = off. */
  maxGradNorm: number;
}

export class AdamW {
  step = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();

  constructor(
    private readonly backend: Backend,
    private readonly params: Params,
    trainable: Iterable<string>,
    private readonly c: AdamWConfig,
  ) {
    for (const name of trainable) {
      const n = params.get(name)!.length;
      this.m.set(name, new Float32Array(n));
      this.v.set(name, new Float32Array(n));
    }
  }

  /**
   * Clips the gradients (if configured), applies one update at `lr`, and returns the norm before clipping. A
   * non-finite gradient is an error thrown before any parameter changes.
   */
  update(grads: Params, lr: number): number {
    let sumSq = 0;
    for (const g of grads.values()) sumSq += this.backend.sumSquares(g, g.length);
    if (!Number.isFinite(sumSq)) {
      const bad = [...grads].find(([, g]) => !Number.isFinite(this.backend.sumSquares(g, g.length)))?.[0];
      throw new Error(`non-finite gradient (first in ${bad}); no update was applied`);
    }
    const norm =
      this.c.maxGradNorm > 0 ? clipGradNorm(this.backend, [...grads.values()], this.c.maxGradNorm) : Math.sqrt(sumSq);
    this.step++;
    const hp = {
      lr,
      beta1: this.c.beta1,
      beta2: this.c.beta2,
      eps: this.c.eps,
      weightDecay: this.c.weightDecay,
      step: this.step,
    };
    for (const [name, g] of grads)
      this.backend.adamw(this.params.get(name)!, g, this.m.get(name)!, this.v.get(name)!, g.length, hp);
    return norm;
  }

  save(path: string): void {
    const tensors = [...this.m.keys()].flatMap((name) => [
      { name: `m.${name}`, shape: [this.m.get(name)!.length], data: this.m.get(name)! },
      { name: `v.${name}`, shape: [this.v.get(name)!.length], data: this.v.get(name)! },
    ]);
    writeSafetensors(path, tensors, { dtype: "F32", metadata: { step: String(this.step) } });
  }

  load(path: string, step: number): void {
    if (!existsSync(path)) throw new Error(`${path}: optimizer state missing`);
    const t = readSafetensors(path);
    for (const [name, m] of this.m) {
      const sm = t.get(`m.${name}`),
        sv = t.get(`v.${name}`);
      if (!sm || !sv || sm.data.length !== m.length) throw new Error(`${path}: no matching moments for ${name}`);
      m.set(sm.data);
      this.v.get(name)!.set(sv.data);
    }
    this.step = step;
  }
}
