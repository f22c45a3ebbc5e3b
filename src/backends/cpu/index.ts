// The `cpu` backend: the Backend interface over the native addon (C++17, OpenMP). Every product goes through the
// addon's built-in batch-invariant GEMM unless SSO_GEMM=blas (or setCpuGemm("blas")) selects OpenBLAS, when linked.
// A thin adapter: argument order is the addon's, all checking happens in the addon. A 16-bit weight goes to the
// addon's 16-bit entry points (always the built-in GEMM, SSO_GEMM=blas or not).
import { emptyPanels, isHalf } from "../../tensor/dtype.js";
import type { Backend } from "../backend.js";
import { matmulBackwardVia } from "../matmul-grad.js";
import { type CpuAddon, type GemmKind, loadCpuAddon } from "./addon.js";

let warned = false;

/** Notes about the GEMM choice, printed once per process when the backend is made (synchronously, on stderr, so
 *  they appear before a long run rather than after it as process.emitWarning's would). */
function gemmNotes(addon: CpuAddon): string[] {
  const notes: string[] = [];
  const requested = process.env.SSO_GEMM;
  if (requested && !["builtin", "blas", "openblas"].includes(requested)) {
    notes.push(`SSO_GEMM=${requested} is neither "builtin" nor "blas"; using ${addon.gemmName}`);
  } else if ((requested === "blas" || requested === "openblas") && addon.gemm !== "blas") {
    notes.push(`SSO_GEMM=${requested}, but this addon has ${addon.blasName}; using ${addon.gemmName}`);
  }
  if (addon.gemm === "blas") {
    notes.push(
      `matmuls use ${addon.gemmName}: a sequence's results may differ in the last bits with the batch it is in ` +
        `(batch-invariant log-probs, byte-identical resume and remote = local are not guaranteed; unset SSO_GEMM for them)`,
    );
  } else if (addon.gemmName.includes("scalar")) {
    const why = process.env.SSO_GEMM_ISA === "portable" ? "SSO_GEMM_ISA=portable" : "this CPU lacks AVX2+FMA+F16C";
    notes.push(`matmuls use ${addon.gemmName} (${why}): several times slower than the vector kernels`);
  }
  const isa = process.env.SSO_GEMM_ISA;
  if (isa && !["portable", "avx2", "avx512"].includes(isa))
    notes.push(`SSO_GEMM_ISA=${isa} is none of portable, avx2, avx512; using ${addon.gemmName}`);
  else if ((isa === "avx2" || isa === "avx512") && !addon.gemmName.includes(isa === "avx2" ? "AVX2" : "AVX-512"))
    notes.push(`SSO_GEMM_ISA=${isa}, but this CPU lacks it; using ${addon.gemmName}`);
  return notes;
}

/** Selects the cpu backend's GEMM for the whole process (see GemmKind); throws if the addon is unavailable or
 *  "blas" is asked of a build without BLAS. */
export function setCpuGemm(kind: GemmKind): void {
  const addon = loadCpuAddon();
  if (addon instanceof Error) throw addon;
  addon.setGemm(kind);
}

export function makeCpuBackend(addon: CpuAddon): Backend {
  if (!warned) {
    warned = true;
    for (const note of gemmNotes(addon)) console.error(`sso cpu backend: ${note}`);
  }
  const matmul: Backend["matmul"] = (c, a, b, M, N, K, o = {}) => {
    const [ta, tb, acc, batch] = [o.transA ?? false, o.transB ?? false, o.accumulate ?? false, o.batch ?? 1];
    if (isHalf(b)) addon.matmul16(c, a, b.bits, M, N, K, ta, tb, acc, batch, b.dtype === "bf16");
    else addon.matmul(c, a, b, M, N, K, ta, tb, acc, batch);
  };
  return {
    name: "cpu",
    // A getter: the GEMM can be switched after the backend is made.
    get description() {
      const blas = addon.hasBlas && addon.gemm !== "blas" ? `; ${addon.blasName} available via SSO_GEMM=blas` : "";
      return `native addon: ${addon.gemmName}${blas}${addon.openmp ? ", OpenMP" : ""}`;
    },
    matmul,
    matmulBackward: (dA, dB, dC, a, b, M, N, K, opts) => matmulBackwardVia(matmul, dA, dB, dC, a, b, M, N, K, opts),
    packPanels: (w, N, K) => {
      const p = emptyPanels(w, N, K);
      addon.packPanels(p.panels, isHalf(w) ? w.bits : w, N, K);
      return p;
    },
    matmulPanels: (c, a, w, M, acc = false) =>
      addon.matmulPanels(c, a, w.panels, M, w.N, w.K, acc, w.dtype === "f32" ? 0 : w.dtype === "bf16" ? 1 : 2),
    embeddingForward: (out, table, ids, T, C) =>
      isHalf(table)
        ? addon.embeddingForward16(out, table.bits, ids, T, C, table.dtype === "bf16")
        : addon.embeddingForward(out, table, ids, T, C),
    embeddingBackward: addon.embeddingBackward,
    rmsnormForward: addon.rmsnormForward,
    rmsnormBackward: addon.rmsnormBackward,
    ropeForward: (out, x, pos, invFreq, T, H, HS) => addon.rope(out, x, pos, invFreq, T, H, HS, 1, false),
    ropeBackward: (dx, dOut, pos, invFreq, T, H, HS) => addon.rope(dx, dOut, pos, invFreq, T, H, HS, -1, true),
    attentionForward: (out, lse, q, k, v, s) =>
      addon.attentionForward(out, lse, q, k, v, s.cuSeqlens, s.NH, s.NKV, s.HS, s.scale, s.prefixOf),
    attentionBackward: (dq, dk, dv, dOut, q, k, v, out, lse, s) =>
      addon.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, s.cuSeqlens, s.NH, s.NKV, s.HS, s.scale, s.prefixOf),
    attentionDecode: addon.attentionDecode,
    swigluForward: addon.swigluForward,
    swigluBackward: addon.swigluBackward,
    add: addon.add,
    addBackward: addon.addBackward,
    biasAdd: addon.biasAdd,
    biasAddBackward: addon.biasAddBackward,
    tokenLogprobsForward: addon.tokenLogprobsForward,
    tokenLogprobsBackward: addon.tokenLogprobsBackward,
    adamw: (p, g, m, v, N, hp) =>
      addon.adamw(p, g, m, v, N, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.step),
    sumSquares: addon.sumSquares,
    scale: addon.scale,
  };
}
