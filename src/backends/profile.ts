// SSO_PROFILE=1: where a run's kernel time goes. Wraps a backend so that every kernel call is timed (the native
// kernels run synchronously, so wall time around the call is the kernel's), grouped by kernel and, for the matrix
// products, by shape and operand type; the table goes to stderr when the process exits. A development aid: it
// changes no result, and costs a clock read per call.
import type { Backend } from "./backend.js";

interface Entry {
  calls: number;
  ms: number;
  flops: number;
}

/** The group a call falls in: the kernel's name, and for products their M×N×K, transposes and B's type. */
function groupOf(kernel: string, args: unknown[]): { key: string; flops: number } {
  if (kernel !== "matmul" && kernel !== "matmulBackward") return { key: kernel, flops: 0 };
  const [M, N, K] = (kernel === "matmul" ? args.slice(3, 6) : args.slice(5, 8)) as number[];
  const b = args[kernel === "matmul" ? 2 : 4],
    opts = (args[kernel === "matmul" ? 6 : 8] ?? {}) as { transA?: boolean; transB?: boolean; batch?: number };
  const batch = opts.batch ?? 1,
    per = 2 * M * N * K * batch;
  // Backward computes dA and/or dB: one product each.
  const products = kernel === "matmul" ? 1 : (args[0] ? 1 : 0) + (args[1] ? 1 : 0);
  const tag = `${opts.transA ? "T" : "N"}${opts.transB ? "T" : "N"}${b instanceof Float32Array ? "" : " 16-bit B"}`;
  const dirs = kernel === "matmul" ? "" : ` d${args[0] ? "A" : ""}${args[1] ? "B" : ""}`;
  return { key: `${kernel}${dirs} ${M}×${N}×${K}${batch > 1 ? `×${batch}` : ""} ${tag}`, flops: per * products };
}

/** The backend with every kernel timed; the table prints once, at exit. */
export function profiled(be: Backend): Backend {
  const table = new Map<string, Entry>();
  const started = performance.now();
  process.once("exit", () => {
    const total = [...table.values()].reduce((s, e) => s + e.ms, 0),
      wall = performance.now() - started;
    const rows = [...table.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40);
    const lines = rows.map(([key, e]) => {
      const gflops = e.flops > 0 && e.ms > 0 ? `${(e.flops / e.ms / 1e6).toFixed(1).padStart(7)} GFLOPS` : "";
      return `${((100 * e.ms) / total).toFixed(1).padStart(5)}% ${(e.ms / 1000).toFixed(2).padStart(9)} s ${String(e.calls).padStart(7)}× ${key} ${gflops}`;
    });
    process.stderr.write(
      `SSO_PROFILE: ${(total / 1000).toFixed(2)} s in kernels of ${(wall / 1000).toFixed(2)} s since the backend loaded\n${lines.join("\n")}\n`,
    );
  });
  return new Proxy(be, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      const kernel = String(prop);
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const result = value.apply(target, args);
        const { key, flops } = groupOf(kernel, args);
        const e = table.get(key) ?? { calls: 0, ms: 0, flops: 0 };
        e.calls++;
        e.ms += performance.now() - t0;
        e.flops += flops;
        table.set(key, e);
        return result;
      };
    },
  });
}
