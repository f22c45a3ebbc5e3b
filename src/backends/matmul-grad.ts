// The backward of a (batched, possibly transposed) matmul, written once in terms of the forward matmul so that
// every backend shares the same derivation. With A' = op(A) (M,K), B' = op(B) (K,N) and C = A'·B':
//   dA' = dC·B'ᵀ and dB' = A'ᵀ·dC; when an operand is stored transposed its gradient is stored transposed too.
// A 16-bit B (a frozen weight) gets no gradient and must stay the B operand of dA's product (A not transposed).

import { type Half, isHalf } from "../tensor/dtype.js";
import type { MatmulOptions } from "./backend.js";

type Matmul<A> = (c: A, a: A, b: A | Half, M: number, N: number, K: number, opts?: MatmulOptions) => void;

/** Generic over the array type so the float64 reference kernels can share it. */
export function matmulBackwardVia<A extends Float32Array | Float64Array>(
  matmul: Matmul<A>,
  dA: A | null,
  dB: A | null,
  dC: A,
  a: A,
  b: A | Half,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): void {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const batch = opts.batch ?? 1;
  if (isHalf(b) && (dB || transA))
    throw new Error("matmulBackward: a 16-bit B is a frozen weight (no dB) and A must not be transposed");
  if (dA) {
    if (!transA)
      matmul(dA, dC, b, M, K, N, { transB: !transB, accumulate: true, batch }); // (M,N)·op(B)ᵀ
    else matmul(dA, b as A, dC, K, M, N, { transA: transB, transB: true, accumulate: true, batch }); // (K,M) = B'·dCᵀ
  }
  if (dB) {
    if (!transB)
      matmul(dB, a, dC, K, N, M, { transA: !transA, accumulate: true, batch }); // (K,N) = A'ᵀ·dC
    else matmul(dB, dC, a, N, K, M, { transA: true, transB: transA, accumulate: true, batch }); // (N,K) = dCᵀ·A'
  }
}
