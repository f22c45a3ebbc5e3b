// Backend registry: `ref` always, `cpu` when the native addon loads. Pick by name; `cpu` is the default.
import type { Backend } from "./backend.js";
import { loadCpuAddon } from "./cpu/addon.js";
import { makeCpuBackend } from "./cpu/index.js";
import { profiled } from "./profile.js";
import { refBackend } from "./ref/index.js";

export type { AdamWParams, AttentionShape, Backend, MatmulOptions } from "./backend.js";

export const BACKEND_NAMES = ["ref", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

let cpu: Backend | undefined;

/** The named backend; throws a one-line error when it cannot be used here. */
export function getBackend(name: string): Backend {
  if (name === "ref") return refBackend;
  if (name === "cpu") {
    if (cpu) return cpu;
    const addon = loadCpuAddon();
    if (addon instanceof Error) throw addon;
    cpu = makeCpuBackend(addon);
    if (process.env.SSO_PROFILE) cpu = profiled(cpu);
    return cpu;
  }
  throw new Error(`unknown backend "${name}" (expected one of: ${BACKEND_NAMES.join(", ")})`);
}

/** Backends usable on this machine, with the reason for each one that is not. */
export function probeBackends(): { name: BackendName; backend?: Backend; error?: string }[] {
  return BACKEND_NAMES.map((name) => {
    try {
      return { name, backend: getBackend(name) };
    } catch (e) {
      return { name, error: (e as Error).message };
    }
  });
}
