// The `cpu` backend: the Backend interface over the native addon (C++17, OpenMP, GEMM through OpenBLAS when
// found at build time). A thin adapter: argument order is the addon's, all checking happens in the addon.
import type { Backend } from "../backend.js";
import { matmulBackwardVia } from "../matmul-grad.js";
import type { CpuAddon } from "./addon.js";

let warned = false;

export function makeCpuBackend(addon: CpuAddon): Backend {
  if (!addon.hasBlas && !warned) {
    warned = true;
    process.emitWarning(`sso cpu backend: ${addon.blasName}; matmuls will be several times slower (install libopenblas-dev and rebuild)`);
  }
  const matmul: Backend["matmul"] = (c, a, b, M, N, K, o = {}) =>
    addon.matmul(c, a, b, M, N, K, o.transA ?? false, o.transB ?? false, o.accumulate ?? false, o.batch ?? 1);
  return {
    name: "cpu",
    description: `native addon: ${addon.blasName}${addon.openmp ? ", OpenMP" : ""}`,
    matmul,
    matmulBackward: (dA, dB, dC, a, b, M, N, K, opts) => matmulBackwardVia(matmul, dA, dB, dC, a, b, M, N, K, opts),
    embeddingForward: addon.embeddingForward,
    embeddingBackward: addon.embeddingBackward,
    rmsnormForward: addon.rmsnormForward,
    rmsnormBackward: addon.rmsnormBackward,
    ropeForward: (out, x, pos, invFreq, T, H, HS) => addon.rope(out, x, pos, invFreq, T, H, HS, 1, false),
    ropeBackward: (dx, dOut, pos, invFreq, T, H, HS) => addon.rope(dx, dOut, pos, invFreq, T, H, HS, -1, true),
    attentionForward: (out, lse, q, k, v, s) => addon.attentionForward(out, lse, q, k, v, s.cuSeqlens, s.NH, s.NKV, s.HS, s.scale),
    attentionBackward: (dq, dk, dv, dOut, q, k, v, out, lse, s) =>
      addon.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, s.cuSeqlens, s.NH, s.NKV, s.HS, s.scale),
    attentionDecode: addon.attentionDecode,
    swigluForward: addon.swigluForward,
    swigluBackward: addon.swigluBackward,
    add: addon.add,
    addBackward: addon.addBackward,
    biasAdd: addon.biasAdd,
    biasAddBackward: addon.biasAddBackward,
    tokenLogprobsForward: addon.tokenLogprobsForward,
    tokenLogprobsBackward: addon.tokenLogprobsBackward,
    adamw: (p, g, m, v, N, hp) => addon.adamw(p, g, m, v, N, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.step),
    sumSquares: addon.sumSquares,
    scale: addon.scale,
  };
}
