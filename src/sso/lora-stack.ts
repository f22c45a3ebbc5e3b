// Hot-swapped LoRA (iterate.server.swap lora): a server holds the initial model and one adapter per request, but
// iteration k's policy is π_1 with every earlier iteration's adapter merged in turn (iterate.ts: each iteration
// trains a fresh adapter on its merged policy). The adapter that makes π_1 into π_k is therefore the stack of
// adapters 1..k−1: A = [A_1; …; A_{k−1}] (rank Σ r_j), B = [s_1·B_1, …, s_{k−1}·B_{k−1}], written with lora_alpha = r
// (scaling 1), so that s·B·A = Σ s_j·B_j·A_j exactly. π_1 + stack equals the merged folder π_k up to rounding (the
// merge rounds once per iteration; the server adds the terms at run time): the probe is computed for π_1 + stack.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readConfig } from "../model/folder.js";
import { loraScale } from "../model/lora.js";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapterConfigJson, PEFT_PREFIX, readAdapter } from "../model/peft.js";
import { writeSafetensors } from "../model/safetensors.js";
import { writeDirAtomic, writeFileAtomic } from "../util/atomic.js";

/** The adapter over `base` that is the stack of `adapters` (a single one is returned as is); written to `out`. */
export function stackAdapters(base: string, adapters: readonly string[], out: string): string {
  if (adapters.length === 1) return adapters[0];
  if (existsSync(join(out, ADAPTER_WEIGHTS))) return out;
  const c = readConfig(base);
  const read = adapters.map((dir) => readAdapter(dir, c));
  const targets = read[0].settings.targets;
  for (const [i, a] of read.entries())
    if (a.settings.targets.join() !== targets.join())
      throw new Error(`${adapters[i]}: targets ${a.settings.targets} differ from ${adapters[0]}'s ${targets}`);
  const r = read.reduce((n, a) => n + a.settings.r, 0);
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const name of read[0].tensors.keys()) {
    if (!name.endsWith(".lora_A.weight")) continue;
    const bName = name.replace(".lora_A.weight", ".lora_B.weight");
    const inDim = read[0].tensors.get(name)!.length / read[0].settings.r;
    const outDim = read[0].tensors.get(bName)!.length / read[0].settings.r;
    const A = new Float32Array(r * inDim),
      B = new Float32Array(outDim * r);
    let row = 0;
    for (const a of read) {
      const rj = a.settings.r,
        s = loraScale(a.settings);
      A.set(a.tensors.get(name)!, row * inDim);
      const Bj = a.tensors.get(bName)!; // (out, rj), row-major
      for (let o = 0; o < outDim; o++) for (let j = 0; j < rj; j++) B[o * r + row + j] = s * Bj[o * rj + j];
      row += rj;
    }
    tensors.push({ name: PEFT_PREFIX + name, shape: [r, inDim], data: A });
    tensors.push({ name: PEFT_PREFIX + bName, shape: [outDim, r], data: B });
  }
  writeDirAtomic(out, (tmp) => {
    const settings = { ...read[0].settings, r, alpha: r, rslora: false };
    writeFileAtomic(join(tmp, ADAPTER_CONFIG), `${JSON.stringify(adapterConfigJson(settings, base), null, 2)}\n`);
    writeSafetensors(join(tmp, ADAPTER_WEIGHTS), tensors, { dtype: "F32" });
  });
  return out;
}
