// The `ref` backend: every kernel in plain TypeScript, written to be obviously correct rather than fast.
// Sums are accumulated in double precision, and every kernel also runs on Float64Array data (used by the
// finite-difference gradient checks). It is the oracle that the native backends and the finite-difference
// gradient checks are measured against; nothing in a hot path should run on it except tiny test models.
// A 16-bit weight (Half) is widened to fp32 up front, the obvious way.

import {
  emptyPanels,
  type Half,
  isHalf,
  PANEL_WIDTH,
  type Panels,
  type Weight,
  widenWeight,
} from "../../tensor/dtype.js";
import type { AdamWParams, AttentionShape, Backend, MatmulOptions } from "../backend.js";
import { matmulBackwardVia } from "../matmul-grad.js";

/** The reference kernels accept float64 arrays too, which the finite-difference gradient checks rely on. */
export type Vec = Float32Array | Float64Array;

/** A weight as an array: a 16-bit one widened (exactly). */
const wide = (w: Vec | Half): Vec => (isHalf(w) ? widenWeight(w) : w);

function matmul(c: Vec, a: Vec, w: Vec | Half, M: number, N: number, K: number, opts: MatmulOptions = {}): void {
  const b = wide(w);
  const { transA = false, transB = false, accumulate = false, batch = 1 } = opts;
  for (let p = 0; p < batch; p++) {
    const ao = p * M * K,
      bo = p * K * N,
      co = p * M * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a[ao + k * M + i] : a[ao + i * K + k];
          const bv = transB ? b[bo + j * K + k] : b[bo + k * N + j];
          s += av * bv;
        }
        c[co + i * N + j] = accumulate ? c[co + i * N + j] + s : s;
      }
    }
  }
}

/** The panel layout written out index by index (dtype.ts: Panels). */
function packPanels(w: Weight, N: number, K: number): Panels {
  const src = isHalf(w) ? w.bits : w,
    p = emptyPanels(w, N, K);
  for (let j = 0; j < N; j++)
    for (let k = 0; k < K; k++)
      p.panels[(Math.floor(j / PANEL_WIDTH) * K + k) * PANEL_WIDTH + (j % PANEL_WIDTH)] = src[j * K + k];
  return p;
}

/** C = A·Wᵀ read from the panels, element by element. */
function matmulPanels(c: Vec, a: Vec, w: Panels, M: number, accumulate = false): void {
  const { N, K } = w,
    p = w.panels instanceof Uint16Array ? widenWeight({ dtype: w.dtype as Half["dtype"], bits: w.panels }) : w.panels;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++)
        s += a[i * K + k] * p[(Math.floor(j / PANEL_WIDTH) * K + k) * PANEL_WIDTH + (j % PANEL_WIDTH)];
      c[i * N + j] = accumulate ? c[i * N + j] + s : s;
    }
}

function rmsnormForward(out: Vec, rstd: Vec, x: Vec, weight: Vec, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[n * C + i] * x[n * C + i];
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let i = 0; i < C; i++) out[n * C + i] = x[n * C + i] * r * weight[i];
  }
}

// y_i = x_i·r·w_i with r = (Σx²/C + eps)^(-1/2), so ∂r/∂x_j = −r³·x_j/C.
function rmsnormBackward(
  dx: Vec,
  dWeight: Vec | null,
  dOut: Vec,
  x: Vec,
  weight: Vec,
  rstd: Vec,
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const r = rstd[n];
    let dot = 0; // Σ_j dy_j·w_j·x_j
    for (let j = 0; j < C; j++) dot += dOut[n * C + j] * weight[j] * x[n * C + j];
    for (let i = 0; i < C; i++) {
      const xi = x[n * C + i],
        dy = dOut[n * C + i];
      dx[n * C + i] += dy * weight[i] * r - (xi * r * r * r * dot) / C;
      if (dWeight) dWeight[i] += dy * xi * r;
    }
  }
}

// rotate_half: the first half of each head pairs with the second half, (x1, x2) → (x1·cos − x2·sin, x2·cos + x1·sin).
function rope(
  out: Vec,
  x: Vec,
  positions: Int32Array,
  invFreq: Vec,
  T: number,
  H: number,
  HS: number,
  sign: 1 | -1,
): void {
  const half = HS / 2;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[t] * invFreq[i]); // fp32 angle, as Hugging Face computes it
      const cos = Math.cos(angle),
        sin = sign * Math.sin(angle);
      for (let h = 0; h < H; h++) {
        const o = (t * H + h) * HS;
        const x1 = x[o + i],
          x2 = x[o + i + half];
        out[o + i] = x1 * cos - x2 * sin;
        out[o + i + half] = x2 * cos + x1 * sin;
      }
    }
  }
}

function ropeBackward(dx: Vec, dOut: Vec, positions: Int32Array, invFreq: Vec, T: number, H: number, HS: number): void {
  const rotated = new Float64Array(T * H * HS);
  rope(rotated, dOut, positions, invFreq, T, H, HS, -1); // the inverse rotation is the transpose
  for (let i = 0; i < rotated.length; i++) dx[i] += rotated[i];
}

/** The key rows query row i of sequence s attends to, in order: its prefix's rows, then its own up to i. */
function keyRows(shape: AttentionShape, s: number, i: number): number[] {
  const { cuSeqlens: cu, prefixOf } = shape,
    p = prefixOf?.[s] ?? -1,
    rows: number[] = [];
  if (p !== -1) {
    if (!(p >= 0 && p < s) || prefixOf![p] !== -1)
      throw new Error(`attention: prefixOf[${s}] = ${p} must be an earlier sequence without a prefix, or -1`);
    for (let j = cu[p]; j < cu[p + 1]; j++) rows.push(j);
  }
  for (let j = cu[s]; j <= i; j++) rows.push(j);
  return rows;
}

function attentionForward(out: Vec, lse: Vec, q: Vec, k: Vec, v: Vec, shape: AttentionShape): void {
  const { cuSeqlens, NH, NKV, HS, scale } = shape;
  const group = NH / NKV;
  for (let s = 0; s + 1 < cuSeqlens.length; s++) {
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / group);
      for (let i = cuSeqlens[s]; i < cuSeqlens[s + 1]; i++) {
        const qo = (i * NH + h) * HS,
          keys = keyRows(shape, s, i);
        const scores = keys.map((j) => {
          let dot = 0;
          for (let d = 0; d < HS; d++) dot += q[qo + d] * k[(j * NKV + g) * HS + d];
          return dot * scale;
        });
        const max = Math.max(...scores);
        let sum = 0;
        for (const sc of scores) sum += Math.exp(sc - max);
        const l = max + Math.log(sum);
        lse[i * NH + h] = l;
        for (let d = 0; d < HS; d++) {
          let acc = 0;
          keys.forEach((j, n) => {
            acc += Math.exp(scores[n] - l) * v[(j * NKV + g) * HS + d];
          });
          out[qo + d] = acc;
        }
      }
    }
  }
}

// With p_ij = exp(s_ij − lse_i): dv_j += Σ_i p_ij·do_i; ds_ij = p_ij·(do_i·v_j − do_i·o_i); dq_i += scale·Σ_j ds_ij·k_j;
// dk_j += scale·Σ_i ds_ij·q_i. A prefix's k_j/v_j collect these from the queries of every sequence continuing it.
function attentionBackward(
  dq: Vec,
  dk: Vec,
  dv: Vec,
  dOut: Vec,
  q: Vec,
  k: Vec,
  v: Vec,
  out: Vec,
  lse: Vec,
  shape: AttentionShape,
): void {
  const { cuSeqlens, NH, NKV, HS, scale } = shape;
  const group = NH / NKV;
  const dot = (x: Vec, xo: number, y: Vec, yo: number): number => {
    let acc = 0;
    for (let d = 0; d < HS; d++) acc += x[xo + d] * y[yo + d];
    return acc;
  };
  for (let s = 0; s + 1 < cuSeqlens.length; s++) {
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / group);
      for (let i = cuSeqlens[s]; i < cuSeqlens[s + 1]; i++) {
        const qo = (i * NH + h) * HS;
        const D = dot(dOut, qo, out, qo);
        for (const j of keyRows(shape, s, i)) {
          const ko = (j * NKV + g) * HS;
          const p = Math.exp(dot(q, qo, k, ko) * scale - lse[i * NH + h]);
          const ds = p * (dot(dOut, qo, v, ko) - D);
          for (let d = 0; d < HS; d++) {
            dv[ko + d] += p * dOut[qo + d];
            dq[qo + d] += scale * ds * k[ko + d];
            dk[ko + d] += scale * ds * q[qo + d];
          }
        }
      }
    }
  }
}

function attentionDecode(
  out: Vec,
  q: Vec,
  kCache: Vec,
  vCache: Vec,
  cacheLens: Int32Array,
  S: number,
  L: number,
  NH: number,
  NKV: number,
  HS: number,
  scale: number,
): void {
  const group = NH / NKV;
  for (let s = 0; s < S; s++) {
    const n = cacheLens[s];
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / group);
      const qo = (s * NH + h) * HS;
      const scores: number[] = [];
      for (let j = 0; j < n; j++) {
        const ko = ((s * L + j) * NKV + g) * HS;
        let acc = 0;
        for (let d = 0; d < HS; d++) acc += q[qo + d] * kCache[ko + d];
        scores.push(acc * scale);
      }
      const max = Math.max(...scores);
      let sum = 0;
      for (const sc of scores) sum += Math.exp(sc - max);
      for (let d = 0; d < HS; d++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += (Math.exp(scores[j] - max) / sum) * vCache[((s * L + j) * NKV + g) * HS + d];
        out[qo + d] = acc;
      }
    }
  }
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function swigluForward(out: Vec, gate: Vec, up: Vec, N: number): void {
  for (let i = 0; i < N; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

// d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
function swigluBackward(dGate: Vec, dUp: Vec, dOut: Vec, gate: Vec, up: Vec, N: number): void {
  for (let i = 0; i < N; i++) {
    const sg = sigmoid(gate[i]);
    dGate[i] += dOut[i] * up[i] * sg * (1 + gate[i] * (1 - sg));
    dUp[i] += dOut[i] * gate[i] * sg;
  }
}

function tokenLogprobsForward(logp: Vec, lse: Vec, logits: Vec, targets: Int32Array, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[n * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[n * V + v] - max);
    lse[n] = max + Math.log(sum);
    logp[n] = logits[n * V + targets[n]] - lse[n];
  }
}

function tokenLogprobsBackward(
  dLogits: Vec,
  dLogp: Vec,
  logits: Vec,
  targets: Int32Array,
  lse: Vec,
  N: number,
  V: number,
): void {
  for (let n = 0; n < N; n++) {
    for (let v = 0; v < V; v++) dLogits[n * V + v] -= dLogp[n] * Math.exp(logits[n * V + v] - lse[n]);
    dLogits[n * V + targets[n]] += dLogp[n];
  }
}

function adamw(param: Vec, grad: Vec, m: Vec, v: Vec, N: number, hp: AdamWParams): void {
  const bc1 = 1 - hp.beta1 ** hp.step,
    bc2 = 1 - hp.beta2 ** hp.step;
  for (let i = 0; i < N; i++) {
    m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * grad[i];
    v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * grad[i] * grad[i];
    const mHat = m[i] / bc1,
      vHat = v[i] / bc2;
    param[i] = param[i] * (1 - hp.lr * hp.weightDecay) - (hp.lr * mHat) / (Math.sqrt(vHat) + hp.eps);
  }
}

function embeddingForward(out: Vec, weight: Vec | Half, ids: Int32Array, T: number, C: number): void {
  const table = wide(weight);
  for (let t = 0; t < T; t++) for (let i = 0; i < C; i++) out[t * C + i] = table[ids[t] * C + i];
}

function embeddingBackward(dTable: Vec, dOut: Vec, ids: Int32Array, T: number, C: number): void {
  for (let t = 0; t < T; t++) for (let i = 0; i < C; i++) dTable[ids[t] * C + i] += dOut[t * C + i];
}

function add(out: Vec, a: Vec, b: Vec, N: number): void {
  for (let i = 0; i < N; i++) out[i] = a[i] + b[i];
}

function addBackward(da: Vec | null, db: Vec | null, dOut: Vec, N: number): void {
  for (let i = 0; i < N; i++) {
    if (da) da[i] += dOut[i];
    if (db) db[i] += dOut[i];
  }
}

function biasAdd(out: Vec, x: Vec, bias: Vec, N: number, C: number): void {
  for (let n = 0; n < N; n++) for (let i = 0; i < C; i++) out[n * C + i] = x[n * C + i] + bias[i];
}

function biasAddBackward(dx: Vec | null, dBias: Vec, dOut: Vec, N: number, C: number): void {
  for (let i = 0; i < C; i++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      if (dx) dx[n * C + i] += dOut[n * C + i];
      s += dOut[n * C + i];
    }
    dBias[i] += s;
  }
}

function sumSquares(x: Vec, N: number): number {
  let s = 0;
  for (let i = 0; i < N; i++) s += x[i] * x[i];
  return s;
}

function scale(x: Vec, s: number, N: number): void {
  for (let i = 0; i < N; i++) x[i] *= s;
}

/** The kernels with float64-capable signatures, for gradient checks. */
export const refKernels = {
  matmul,
  packPanels,
  matmulPanels,
  matmulBackward: (
    dA: Vec | null,
    dB: Vec | null,
    dC: Vec,
    a: Vec,
    b: Vec | Half,
    M: number,
    N: number,
    K: number,
    opts?: MatmulOptions,
  ) => matmulBackwardVia<Vec>(matmul, dA, dB, dC, a, b, M, N, K, opts),
  embeddingForward,
  embeddingBackward,
  rmsnormForward,
  rmsnormBackward,
  ropeForward: (out: Vec, x: Vec, positions: Int32Array, invFreq: Vec, T: number, H: number, HS: number) =>
    rope(out, x, positions, invFreq, T, H, HS, 1),
  ropeBackward,
  attentionForward,
  attentionBackward,
  attentionDecode,
  swigluForward,
  swigluBackward,
  add,
  addBackward,
  biasAdd,
  biasAddBackward,
  tokenLogprobsForward,
  tokenLogprobsBackward,
  adamw,
  sumSquares,
  scale,
};

export const refBackend: Backend = {
  name: "ref",
  description: "plain TypeScript reference kernels (slow, exact oracle)",
  ...refKernels,
};
