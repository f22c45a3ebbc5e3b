// Typed surface of the native addon (native/cpu/addon.cc) and its loader. The addon is built by `npm ci`
// (node-gyp); loading fails with a message that says how to rebuild it.
import { createRequire } from "node:module";
import { join } from "node:path";
import { packageRoot } from "../../util/package-root.js";

type F = Float32Array;
type I = Int32Array;

/** The GEMM behind every product of the cpu backend. "builtin": batch-invariant (each output element is the same
 *  sequential fp32 fma chain over k whatever the shapes, tiling or threads, so a row's results are bitwise the same
 *  alone or in any batch); the default. "blas": OpenBLAS, opt-in for speed; its bits can depend on the shapes. */
export type GemmKind = "builtin" | "blas";

export interface CpuAddon {
  matmul(
    c: F,
    a: F,
    b: F,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
    batch: number,
  ): void;
  /** matmul with a 16-bit B (bf16 or fp16 bit patterns), widened exactly while packed; always the built-in GEMM,
   *  whose bits equal those of matmul with the widened fp32 B. */
  matmul16(
    c: F,
    a: F,
    b: Uint16Array,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
    batch: number,
    bf16: boolean,
  ): void;
  /** Repacks an (N, K) weight into panels (dst: kernels.h panels_size elements, the same element type as w). */
  packPanels(dst: F | Uint16Array, w: F | Uint16Array, N: number, K: number): void;
  /** C (M,N) [+ C] = A·Wᵀ from W's panels; kind 0 = fp32 panels, 1 = bf16, 2 = fp16. */
  matmulPanels(c: F, a: F, panels: F | Uint16Array, M: number, N: number, K: number, acc: boolean, kind: number): void;
  embeddingForward(out: F, table: F, ids: I, T: number, C: number): void;
  /** embeddingForward from a 16-bit table (bf16 or fp16), rows widened exactly as gathered. */
  embeddingForward16(out: F, table: Uint16Array, ids: I, T: number, C: number, bf16: boolean): void;
  embeddingBackward(dTable: F, dOut: F, ids: I, T: number, C: number): void;
  rmsnormForward(out: F, rstd: F, x: F, weight: F, N: number, C: number, eps: number): void;
  rmsnormBackward(dx: F, dWeight: F | null, dOut: F, x: F, weight: F, rstd: F, N: number, C: number): void;
  rope(
    out: F,
    x: F,
    positions: I,
    invFreq: F,
    T: number,
    H: number,
    HS: number,
    sign: number,
    accumulate: boolean,
  ): void;
  attentionForward(
    out: F,
    lse: F,
    q: F,
    k: F,
    v: F,
    cuSeqlens: I,
    NH: number,
    NKV: number,
    HS: number,
    scale: number,
    prefixOf?: I,
  ): void;
  attentionBackward(
    dq: F,
    dk: F,
    dv: F,
    dOut: F,
    q: F,
    k: F,
    v: F,
    out: F,
    lse: F,
    cuSeqlens: I,
    NH: number,
    NKV: number,
    HS: number,
    scale: number,
    prefixOf?: I,
  ): void;
  attentionDecode(
    out: F,
    q: F,
    kCache: F,
    vCache: F,
    cacheLens: I,
    S: number,
    L: number,
    NH: number,
    NKV: number,
    HS: number,
    scale: number,
  ): void;
  swigluForward(out: F, gate: F, up: F, N: number): void;
  swigluBackward(dGate: F, dUp: F, dOut: F, gate: F, up: F, N: number): void;
  add(out: F, a: F, b: F, N: number): void;
  addBackward(da: F | null, db: F | null, dOut: F, N: number): void;
  biasAdd(out: F, x: F, bias: F, N: number, C: number): void;
  biasAddBackward(dx: F | null, dBias: F, dOut: F, N: number, C: number): void;
  tokenLogprobsForward(logp: F, lse: F, logits: F, targets: I, N: number, V: number): void;
  tokenLogprobsBackward(dLogits: F, dLogp: F, logits: F, targets: I, lse: F, N: number, V: number): void;
  adamw(
    param: F,
    grad: F,
    m: F,
    v: F,
    N: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    wd: number,
    step: number,
  ): void;
  sumSquares(x: F, N: number): number;
  scale(x: F, s: number, N: number): void;
  /** Switches the GEMM at run time; "blas" throws when the addon was built without BLAS. */
  setGemm(kind: GemmKind): void;
  /** The GEMM in use: "blas" when SSO_GEMM=blas was set at load (and BLAS is linked) or after setGemm("blas"). */
  readonly gemm: GemmKind;
  /** The GEMM in use, in words, e.g. "built-in batch-invariant GEMM (AVX2+FMA)". */
  readonly gemmName: string;
  /** BLAS is linked into the addon (so setGemm("blas") works); not whether it is in use (see `gemm`). */
  readonly hasBlas: boolean;
  /** The linked BLAS, or a note that there is none. */
  readonly blasName: string;
  readonly openmp: boolean;
}

let loaded: CpuAddon | Error | undefined;

/** The addon, or the Error that explains why it could not be loaded. */
export function loadCpuAddon(): CpuAddon | Error {
  if (loaded) return loaded;
  // libgomp threads spin after each parallel region by default, stealing the core that OpenBLAS's own threads
  // need on a 2-core machine; sleeping at once costs microseconds per kernel instead. Must be set before load.
  process.env.OMP_WAIT_POLICY ??= "PASSIVE";
  // …but sleeping at once makes every kernel of a decoding step (tens per token, a few µs to 100 µs each) wait
  // ~13 µs for the other thread to wake. Spinning 1,000 rounds first (~65 µs of CPU after a region, measured)
  // bridges the gaps between kernels: 10M-model batch-1 decoding 383 → 434 tok/s.
  process.env.GOMP_SPINCOUNT ??= "1000";
  // OpenBLAS's idle workers spin (sched_yield) for 2^28 cycles by default before sleeping, competing with our
  // OpenMP kernels between GEMMs; 2^10 lets them sleep at once. Measured: a 10M-model training step 880 → 805 ms.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= "10";
  const path = join(packageRoot(), "build", "Release", "sso_cpu.node");
  try {
    loaded = createRequire(import.meta.url)(path) as CpuAddon;
  } catch (e) {
    loaded = new Error(
      `cpu backend unavailable: cannot load ${path} (${(e as Error).message.split("\n")[0]}); run \`npm rebuild sso\` or \`npm ci\``,
    );
  }
  return loaded;
}
