// Optimiser-level helpers built on the Backend kernels: global gradient-norm clipping across many parameter
// tensors (the per-tensor AdamW step itself is a kernel). Not a training loop.
import type { Backend } from "../backends/backend.js";

/**
 * Scales all gradients in place so their joint L2 norm is at most maxNorm (as torch.nn.utils.clip_grad_norm_:
 * coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(backend: Backend, grads: readonly Float32Array[], maxNorm: number): number {
  let sumSq = 0;
  for (const g of grads) sumSq += backend.sumSquares(g, g.length);
  const norm = Math.sqrt(sumSq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) backend.scale(g, coef, g.length);
  return norm;
}
