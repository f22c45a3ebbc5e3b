// The Backend interface: the fixed set of kernels every model computation in `sso` is built from.
//
// Conventions (llm.c style), shared by every backend:
// - Arguments are outputs first, then inputs, then shape integers, then options.
// - Tensors are flat row-major Float32Array (token ids and positions are Int32Array). Shape letters:
//   T tokens in a packed batch, C channels, V vocabulary, NH query heads, NKV key/value heads, HS head size,
//   S sequences, L max cached length.
// - Forward kernels overwrite their outputs (unless they take `accumulate`); backward kernels ADD into their
//   gradient outputs (`+=`), so callers zero gradient buffers once and let contributions sum. A gradient output
//   may be null where the caller does not need it (frozen weights).
// - Forward saves exactly what backward needs in explicit buffers (rstd, lse); nothing is hidden in the backend.
// - A frozen weight may be 16-bit (`Weight`: a `Half` keeps a BF16/F16 checkpoint's bits): accepted as the B operand
//   of a product (y = x·Wᵀ forward, dx += dy·W backward, no dW) and as the embedding table. Kernels widen it exactly
//   as they read it and accumulate in fp32, so results equal those with the widened fp32 weight.
// This file is only the contract; `ref` is the readable oracle and `cpu` the fast native addon.

import type { Panels, Weight } from "../tensor/dtype.js";

/** Options of a (batched) matrix product C = op(A)·op(B). */
export interface MatmulOptions {
  /** A is stored (K, M) and used transposed. */
  transA?: boolean;
  /** B is stored (N, K) and used transposed (the layout of a torch Linear weight). */
  transB?: boolean;
  /** Add the product into C instead of overwriting it. */
  accumulate?: boolean;
  /** Number of independent products laid out contiguously (default 1). A weight shared by all rows is not a
   *  batch: fold the rows into M instead. */
  batch?: number;
}

/**
 * A packed batch of sequences for attention: tokens of sequence s occupy rows
 * cuSeqlens[s] .. cuSeqlens[s+1]-1. No token attends outside its own sequence and its prefix.
 */
export interface AttentionShape {
  cuSeqlens: Int32Array; // (S+1), cuSeqlens[0] = 0, non-decreasing
  /**
   * (S) Shared prompt prefixes: prefixOf[s] = p (p < s, prefixOf[p] = −1) makes every token of s attend to all
   * rows of sequence p before its own rows, as if s continued p; −1 = none. Several sequences may share one p;
   * backward adds all their dK/dV into p's rows. One level only. Absent = no sequence has a prefix.
   */
  prefixOf?: Int32Array;
  NH: number;
  NKV: number; // divides NH; query head h reads key/value head floor(h / (NH / NKV))
  HS: number;
  scale: number; // usually 1/sqrt(HS)
}

export interface Backend {
  readonly name: string;
  /** A human-readable line about how this backend computes (e.g. which BLAS). */
  readonly description: string;

  // ---- matmul: C (M,N) = op(A) (M,K) · op(B) (K,N), per batch entry; B may be a 16-bit frozen weight ----
  matmul(c: Float32Array, a: Float32Array, b: Weight, M: number, N: number, K: number, opts?: MatmulOptions): void;
  /** A frozen (N, K) weight repacked into panels (see Panels), for matmulPanels. */
  packPanels(w: Weight, N: number, K: number): Panels;
  /** C (M,N) [+ C] = A (M,K) · Wᵀ from W's panels: the values of matmul(c, a, W, M, N, K, {transB: true}) (on the
   *  cpu backend the same bits), reading W in one pass per row: the decoding path. */
  matmulPanels(c: Float32Array, a: Float32Array, w: Panels, M: number, accumulate?: boolean): void;
  /** dA += dC·op(B)ᵀ-ish and dB += …, for the same options as the forward (accumulate is ignored).
   *  A 16-bit B is frozen: dB must be null and A not transposed. */
  matmulBackward(
    dA: Float32Array | null,
    dB: Float32Array | null,
    dC: Float32Array,
    a: Float32Array,
    b: Weight,
    M: number,
    N: number,
    K: number,
    opts?: MatmulOptions,
  ): void;

  // ---- embedding: out (T,C) = table[ids] (the table may be 16-bit: rows widened as gathered) ----
  embeddingForward(out: Float32Array, table: Weight, ids: Int32Array, T: number, C: number): void;
  embeddingBackward(dTable: Float32Array, dOut: Float32Array, ids: Int32Array, T: number, C: number): void;

  // ---- RMSNorm over the last axis: out (N,C) = x / rms(x) * weight; saves rstd (N) ----
  rmsnormForward(
    out: Float32Array,
    rstd: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    N: number,
    C: number,
    eps: number,
  ): void;
  rmsnormBackward(
    dx: Float32Array,
    dWeight: Float32Array | null,
    dOut: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    rstd: Float32Array,
    N: number,
    C: number,
  ): void;

  // ---- RoPE, Hugging Face rotate_half convention, x (T, H, HS), angle = positions[t] * invFreq[i] ----
  /** out may alias x. invFreq has HS/2 entries (scaling variants are folded into it by the caller). */
  ropeForward(
    out: Float32Array,
    x: Float32Array,
    positions: Int32Array,
    invFreq: Float32Array,
    T: number,
    H: number,
    HS: number,
  ): void;
  /** dx += Rᵀ·dOut. */
  ropeBackward(
    dx: Float32Array,
    dOut: Float32Array,
    positions: Int32Array,
    invFreq: Float32Array,
    T: number,
    H: number,
    HS: number,
  ): void;

  // ---- causal grouped-query attention over a packed batch ----
  /** out (T,NH,HS); lse (T,NH) saves the log-sum-exp of each query row for backward. q (T,NH,HS), k/v (T,NKV,HS). */
  attentionForward(
    out: Float32Array,
    lse: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    shape: AttentionShape,
  ): void;
  attentionBackward(
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    dOut: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    shape: AttentionShape,
  ): void;
  /**
   * One decode step: sequence s's single query q[s] (NH,HS) attends to its cache rows 0..cacheLens[s]-1
   * (the new token's k/v already written). Caches are (S, L, NKV, HS); out is (S, NH, HS).
   */
  attentionDecode(
    out: Float32Array,
    q: Float32Array,
    kCache: Float32Array,
    vCache: Float32Array,
    cacheLens: Int32Array,
    S: number,
    L: number,
    NH: number,
    NKV: number,
    HS: number,
    scale: number,
  ): void;

  // ---- element-wise ----
  /** out (N) = silu(gate) * up. */
  swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, N: number): void;
  swigluBackward(
    dGate: Float32Array,
    dUp: Float32Array,
    dOut: Float32Array,
    gate: Float32Array,
    up: Float32Array,
    N: number,
  ): void;
  /** out (N) = a + b (residual add); out may alias a or b. */
  add(out: Float32Array, a: Float32Array, b: Float32Array, N: number): void;
  /** da += dOut; db += dOut. */
  addBackward(da: Float32Array | null, db: Float32Array | null, dOut: Float32Array, N: number): void;
  /** out (N,C) = x + bias (C); out may alias x. */
  biasAdd(out: Float32Array, x: Float32Array, bias: Float32Array, N: number, C: number): void;
  /** dx += dOut; dBias += Σ_rows dOut. */
  biasAddBackward(dx: Float32Array | null, dBias: Float32Array, dOut: Float32Array, N: number, C: number): void;

  // ---- token log-probs: logp[n] = log_softmax(logits[n])[targets[n]]; saves lse (N) ----
  tokenLogprobsForward(
    logp: Float32Array,
    lse: Float32Array,
    logits: Float32Array,
    targets: Int32Array,
    N: number,
    V: number,
  ): void;
  /** dLogits[n,v] += dLogp[n] · (1[v = targets[n]] − softmax(logits[n])[v]). */
  tokenLogprobsBackward(
    dLogits: Float32Array,
    dLogp: Float32Array,
    logits: Float32Array,
    targets: Int32Array,
    lse: Float32Array,
    N: number,
    V: number,
  ): void;

  // ---- optimiser ----
  /** One AdamW step (decoupled weight decay, bias correction for step t ≥ 1) on one parameter tensor, in place. */
  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, N: number, hp: AdamWParams): void;
  /** Σ x² (accumulated in double). */
  sumSquares(x: Float32Array, N: number): number;
  /** x *= s in place. */
  scale(x: Float32Array, s: number, N: number): void;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number used for bias correction. */
  step: number;
}
