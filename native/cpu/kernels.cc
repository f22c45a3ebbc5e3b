// Hand-written CPU kernels (everything but GEMM), parallelised with OpenMP where the work is large enough to pay
// for waking the second core. Each kernel mirrors its twin in src/backends/ref/index.ts; the parity tests compare
// them. Reductions that feed gradients are done in double or in per-row order so results are deterministic
// for a given thread count and work split.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "half.h"
#include "kernels.h"
#include "vexp.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace sso {

// Parallelise only loops with at least this many floating-point operations of work.
static constexpr long kParallelWork = 1L << 15;

void embedding_forward(float* out, const float* table, const int32_t* ids, int T, int C) {
#pragma omp parallel for schedule(static) if (static_cast<long>(T) * C > kParallelWork)
  for (int t = 0; t < T; t++)
    std::memcpy(out + static_cast<size_t>(t) * C, table + static_cast<size_t>(ids[t]) * C, sizeof(float) * C);
}

void embedding_forward16(float* out, const uint16_t* table, const int32_t* ids, int T, int C, bool bf16) {
#pragma omp parallel for schedule(static) if (static_cast<long>(T) * C > kParallelWork)
  for (int t = 0; t < T; t++) {
    const uint16_t* row = table + static_cast<size_t>(ids[t]) * C;
    float* o = out + static_cast<size_t>(t) * C;
    if (bf16)
      for (int i = 0; i < C; i++) o[i] = bf16_to_f32(row[i]);
    else
      for (int i = 0; i < C; i++) o[i] = f16_to_f32(row[i]);
  }
}

// Tokens may repeat, so threads split the channels, not the tokens: no two threads touch the same entry.
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int T, int C) {
#pragma omp parallel if (static_cast<long>(T) * C > kParallelWork)
  {
#ifdef _OPENMP
    const int nt = omp_get_num_threads(), me = omp_get_thread_num();
#else
    const int nt = 1, me = 0;
#endif
    const int c0 = static_cast<int>(static_cast<long>(C) * me / nt), c1 = static_cast<int>(static_cast<long>(C) * (me + 1) / nt);
    for (int t = 0; t < T; t++) {
      float* row = dtable + static_cast<size_t>(ids[t]) * C;
      const float* g = dout + static_cast<size_t>(t) * C;
      for (int i = c0; i < c1; i++) row[i] += g[i];
    }
  }
}

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if (static_cast<long>(N) * C > kParallelWork)
  for (int n = 0; n < N; n++) {
    const float* xr = x + static_cast<size_t>(n) * C;
    float* o = out + static_cast<size_t>(n) * C;
    double ss = 0;
    for (int i = 0; i < C; i++) ss += static_cast<double>(xr[i]) * xr[i];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / C + eps));
    rstd[n] = r;
    for (int i = 0; i < C; i++) o[i] = xr[i] * r * w[i];
  }
}

void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, const float* rstd, int N,
                      int C) {
  const bool par = static_cast<long>(N) * C > kParallelWork;
#pragma omp parallel for schedule(static) if (par)
  for (int n = 0; n < N; n++) {
    const float* xr = x + static_cast<size_t>(n) * C;
    const float* g = dout + static_cast<size_t>(n) * C;
    float* d = dx + static_cast<size_t>(n) * C;
    const float r = rstd[n];
    double dot = 0;
    for (int j = 0; j < C; j++) dot += static_cast<double>(g[j]) * w[j] * xr[j];
    const float k = static_cast<float>(r * r * r * dot / C);
    for (int i = 0; i < C; i++) d[i] += g[i] * w[i] * r - xr[i] * k;
  }
  if (!dw) return;
  // dw[i] = Σ_n dout[n,i]·x[n,i]·rstd[n]: threads own column ranges, rows summed in order.
#pragma omp parallel for schedule(static) if (par)
  for (int c0 = 0; c0 < C; c0 += 64) {
    const int c1 = std::min(C, c0 + 64);
    double acc[64] = {0};
    for (int n = 0; n < N; n++) {
      const float* xr = x + static_cast<size_t>(n) * C;
      const float* g = dout + static_cast<size_t>(n) * C;
      for (int i = c0; i < c1; i++) acc[i - c0] += static_cast<double>(g[i]) * xr[i] * rstd[n];
    }
    for (int i = c0; i < c1; i++) dw[i] += static_cast<float>(acc[i - c0]);
  }
}

void rope(float* out, const float* x, const int32_t* pos, const float* inv_freq, int T, int H, int HS, int sign,
          bool accumulate) {
  const int half = HS / 2;
#pragma omp parallel if (static_cast<long>(T) * H * HS > kParallelWork)
  {
    std::vector<float> cs(half), sn(half);
#pragma omp for schedule(static)
    for (int t = 0; t < T; t++) {
      for (int i = 0; i < half; i++) {
        const float angle = static_cast<float>(pos[t]) * inv_freq[i];  // fp32 angle, as Hugging Face computes it
        cs[i] = static_cast<float>(std::cos(static_cast<double>(angle)));
        sn[i] = sign * static_cast<float>(std::sin(static_cast<double>(angle)));
      }
      for (int h = 0; h < H; h++) {
        const size_t o = (static_cast<size_t>(t) * H + h) * HS;
        for (int i = 0; i < half; i++) {
          const float x1 = x[o + i], x2 = x[o + i + half];
          const float y1 = x1 * cs[i] - x2 * sn[i], y2 = x2 * cs[i] + x1 * sn[i];
          if (accumulate) {
            out[o + i] += y1;
            out[o + i + half] += y2;
          } else {
            out[o + i] = y1;
            out[o + i + half] = y2;
          }
        }
      }
    }
  }
}

static inline float dot(const float* a, const float* b, int n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int d = 0; d < n; d++) s += a[d] * b[d];
  return s;
}

// log Σ exp(x[j]) over n ≥ 1 values, shifted by the maximum for stability.
static inline float logsumexp(const float* x, int n) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < n; j++) mx = std::max(mx, x[j]);
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < n; j++) sum += vexp(x[j] - mx);
  return mx + std::log(sum);
}

// Attention runs as GEMM tiles: for query rows [i0, i1) of one sequence and one head, the scores against keys
// [start, i1) are one (m × n) GEMM, the masked softmax is done in place, and P·V is a second GEMM. Rows of one
// head are strided views of q/k/v (leading dimension NH·HS or NKV·HS), so nothing is copied.
static constexpr int kQueryBlock = 128;

struct Tile {
  int s, h, i0, i1;  // sequence, head (query head forward, kv head backward), query rows
};

// Rows of sequence q's prefix (0: none).
static int prefix_len(const AttnShape& s, int q) {
  const int p = s.prefix_of ? s.prefix_of[q] : -1;
  return p < 0 ? 0 : s.cu_seqlens[p + 1] - s.cu_seqlens[p];
}

// The most keys any query attends to: its prefix's length plus its own sequence's.
static int max_keys(const AttnShape& s) {
  int L = 0;
  for (int q = 0; q < s.S; q++) L = std::max(L, prefix_len(s, q) + s.cu_seqlens[q + 1] - s.cu_seqlens[q]);
  return L;
}

// The keys and values (n rows, leading dimension ld) that the rows of sequence sq up to `end` attend to for kv head
// g: strided views of k/v without a prefix; with one, the prefix's rows then the sequence's own, gathered into kb/vb
// (n × HS each) so that one GEMM runs over them in the same order as over an unshared copy of the whole sequence.
struct KeyView {
  const float *k, *v;
  int ld;
};
static KeyView key_view(const AttnShape& s, const float* k, const float* v, int sq, int end, int g, float* kb,
                        float* vb) {
  const int kvs = s.NKV * s.HS, HS = s.HS, start = s.cu_seqlens[sq], lp = prefix_len(s, sq);
  const size_t own = static_cast<size_t>(start) * kvs + g * HS;
  if (lp == 0) return {k + own, v + own, kvs};
  const int p0 = s.cu_seqlens[s.prefix_of[sq]];
  for (int j = 0; j < lp + end - start; j++) {
    const int row = j < lp ? p0 + j : start + j - lp;
    const size_t o = static_cast<size_t>(row) * kvs + g * HS;
    std::memcpy(kb + static_cast<size_t>(j) * HS, k + o, sizeof(float) * HS);
    std::memcpy(vb + static_cast<size_t>(j) * HS, v + o, sizeof(float) * HS);
  }
  return {kb, vb, HS};
}

static int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Runs body(tile, scratch) over the tiles: in parallel with single-threaded GEMMs when there are enough tiles to
// keep every thread busy (BLAS is told so; the built-in GEMM sees it is inside a parallel region), else one tile at a
// time with the GEMM threading itself. Tiles must write disjoint rows. Either way each GEMM's bits are the same with
// the built-in GEMM, so attention does not depend on how many tiles there are.
template <typename Body>
static void for_tiles(const std::vector<Tile>& tiles, size_t scratch_floats, Body body) {
  if (tiles.size() >= static_cast<size_t>(2 * num_threads())) {
    SerialBlas serial;
#pragma omp parallel
    {
      std::vector<float> scratch(scratch_floats);
#pragma omp for schedule(dynamic, 1)
      for (size_t t = 0; t < tiles.size(); t++) body(tiles[t], scratch.data());
    }
  } else {
    std::vector<float> scratch(scratch_floats);
    for (const Tile& t : tiles) body(t, scratch.data());
  }
}

// P (m × n) holds scaled scores of query rows i0.. against keys start..; turn row r into exp(score − lse) for
// keys at or before its query and 0 after. With lse == nullptr, compute each row's lse into lse_out first.
// With a prefix of lp rows in front of the keys, pass i0 + lp: row r then has i0 + lp + r − start + 1 valid keys.
static void causal_softmax(float* P, int m, int n, int i0, int start, const float* lse_in, float* lse_out, int lse_stride) {
  for (int r = 0; r < m; r++) {
    float* row = P + static_cast<size_t>(r) * n;
    const int valid = i0 + r - start + 1;
    float l;
    if (lse_in) {
      l = lse_in[static_cast<size_t>(r) * lse_stride];
    } else {
      l = lse_out[static_cast<size_t>(r) * lse_stride] = logsumexp(row, valid);
    }
#pragma omp simd
    for (int j = 0; j < valid; j++) row[j] = vexp(row[j] - l);
    std::fill(row + valid, row + n, 0.0f);
  }
}

static std::vector<Tile> query_tiles(const AttnShape& s, int heads) {
  std::vector<Tile> tiles;
  for (int q = 0; q < s.S; q++)
    for (int h = 0; h < heads; h++)
      for (int i0 = s.cu_seqlens[q]; i0 < s.cu_seqlens[q + 1]; i0 += kQueryBlock)
        tiles.push_back({q, h, i0, std::min(i0 + kQueryBlock, s.cu_seqlens[q + 1])});
  return tiles;
}

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& s) {
  const int NH = s.NH, HS = s.HS, group = NH / s.NKV, qs = NH * HS, L = max_keys(s);
  const size_t block = static_cast<size_t>(kQueryBlock) * L, kv = s.prefix_of ? static_cast<size_t>(L) * HS : 0;
  for_tiles(query_tiles(s, NH), block + 2 * kv, [&](const Tile& t, float* P) {
    const int start = s.cu_seqlens[t.s], lp = prefix_len(s, t.s), m = t.i1 - t.i0, n = lp + t.i1 - start;
    const KeyView kv_ = key_view(s, k, v, t.s, t.i1, t.h / group, P + block, P + block + kv);
    gemm_ex(false, true, m, n, HS, s.scale, q + static_cast<size_t>(t.i0) * qs + t.h * HS, qs, kv_.k, kv_.ld, 0.0f, P,
            n);
    causal_softmax(P, m, n, lp + t.i0, start, nullptr, lse + static_cast<size_t>(t.i0) * NH + t.h, NH);
    gemm_ex(false, false, m, HS, n, 1.0f, P, n, kv_.v, kv_.ld, 0.0f, out + static_cast<size_t>(t.i0) * qs + t.h * HS,
            qs);
  });
}

// Per tile, with P recomputed from the saved lse and D_i = do_i·o_i:
//   dV += Pᵀ·dO;  dP = dO·Vᵀ;  dS = P∘(dP − D)·scale;  dQ += dS·K;  dK += dSᵀ·Q.
// A tile here is a whole (prefix group, kv head): a sequence without a prefix and every sequence continuing it. It
// owns those dK/dV rows (a continuation's prefix part is summed in scratch, then added into the prefix's rows) and
// the dQ rows of its query heads.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const AttnShape& s) {
  const int NH = s.NH, NKV = s.NKV, HS = s.HS, group = NH / NKV, qs = NH * HS, kvs = NKV * HS, L = max_keys(s);
  const int T = s.cu_seqlens[s.S];
  std::vector<float> D(static_cast<size_t>(T) * NH);
#pragma omp parallel for schedule(static) if (static_cast<long>(T) * qs > kParallelWork)
  for (long r = 0; r < static_cast<long>(T) * NH; r++)
    D[r] = dot(dout + static_cast<size_t>(r) * HS, out + static_cast<size_t>(r) * HS, HS);
  std::vector<std::vector<int>> members(s.S);  // per group root: itself, then its continuations in order
  for (int sq = 0; sq < s.S; sq++) members[s.prefix_of && s.prefix_of[sq] >= 0 ? s.prefix_of[sq] : sq].push_back(sq);
  std::vector<Tile> tiles;
  for (int root = 0; root < s.S; root++) {
    bool any = false;
    for (int sq : members[root]) any = any || s.cu_seqlens[sq + 1] > s.cu_seqlens[sq];
    if (any)
      for (int g = 0; g < NKV; g++) tiles.push_back({root, g, 0, 0});
  }
  const size_t block = static_cast<size_t>(kQueryBlock) * L, kv = s.prefix_of ? static_cast<size_t>(L) * HS : 0;
  for_tiles(tiles, 2 * block + 4 * kv, [&](const Tile& t, float* scratch) {
    float *P = scratch, *dS = scratch + block, *kb = dS + block, *vb = kb + kv, *dkb = vb + kv, *dvb = dkb + kv;
    const int g = t.h;
    for (int sq : members[t.s]) {
      const int start = s.cu_seqlens[sq], end = s.cu_seqlens[sq + 1], lp = prefix_len(s, sq), nall = lp + end - start;
      if (end == start) continue;
      const KeyView kv_ = key_view(s, k, v, sq, end, g, kb, vb);
      const size_t own = static_cast<size_t>(start) * kvs + g * HS;
      float *dkg = dk + own, *dvg = dv + own;
      if (lp > 0) {
        std::fill(dkb, dkb + static_cast<size_t>(nall) * HS, 0.0f);
        std::fill(dvb, dvb + static_cast<size_t>(nall) * HS, 0.0f);
        dkg = dkb;
        dvg = dvb;
      }
      for (int h = g * group; h < (g + 1) * group; h++) {
        for (int i0 = start; i0 < end; i0 += kQueryBlock) {
          const int i1 = std::min(i0 + kQueryBlock, end), m = i1 - i0, n = lp + i1 - start;
          const size_t qo = static_cast<size_t>(i0) * qs + h * HS;
          gemm_ex(false, true, m, n, HS, s.scale, q + qo, qs, kv_.k, kv_.ld, 0.0f, P, n);
          causal_softmax(P, m, n, lp + i0, start, lse + static_cast<size_t>(i0) * NH + h, nullptr, NH);
          gemm_ex(true, false, n, HS, m, 1.0f, P, n, dout + qo, qs, 1.0f, dvg, kv_.ld);
          gemm_ex(false, true, m, n, HS, 1.0f, dout + qo, qs, kv_.v, kv_.ld, 0.0f, dS, n);
          for (int r = 0; r < m; r++) {
            const float Di = D[static_cast<size_t>(i0 + r) * NH + h];
            float* ds = dS + static_cast<size_t>(r) * n;
            const float* p = P + static_cast<size_t>(r) * n;
#pragma omp simd
            for (int j = 0; j < n; j++) ds[j] = p[j] * (ds[j] - Di) * s.scale;
          }
          gemm_ex(false, false, m, HS, n, 1.0f, dS, n, kv_.k, kv_.ld, 1.0f, dq + qo, qs);
          gemm_ex(true, false, n, HS, m, 1.0f, dS, n, q + qo, qs, 1.0f, dkg, kv_.ld);
        }
      }
      if (lp > 0) {  // scatter the gathered rows' gradients back: the prefix's rows, then the sequence's own
        const int p0 = s.cu_seqlens[s.prefix_of[sq]];
        for (int j = 0; j < nall; j++) {
          const size_t o = static_cast<size_t>(j < lp ? p0 + j : start + j - lp) * kvs + g * HS;
          for (int d = 0; d < HS; d++) {
            dk[o + d] += dkb[static_cast<size_t>(j) * HS + d];
            dv[o + d] += dvb[static_cast<size_t>(j) * HS + d];
          }
        }
      }
    }
  });
}

void attention_decode(float* out, const float* q, const float* kc, const float* vc, const int32_t* lens, int S, int L,
                      int NH, int NKV, int HS, float scale) {
  const int group = NH / NKV;
  long work = 0;
  for (int s = 0; s < S; s++) work += static_cast<long>(lens[s]) * NH * HS;
#pragma omp parallel if (work > kParallelWork)
  {
    std::vector<float> p;
#pragma omp for schedule(dynamic, 4)
    for (long r = 0; r < static_cast<long>(S) * NH; r++) {
      const int sq = static_cast<int>(r / NH), h = static_cast<int>(r % NH), g = h / group, n = lens[sq];
      const float* qi = q + static_cast<size_t>(r) * HS;
      p.resize(n);
      float mx = -INFINITY;
      for (int j = 0; j < n; j++) {
        p[j] = dot(qi, kc + ((static_cast<size_t>(sq) * L + j) * NKV + g) * HS, HS) * scale;
        mx = std::max(mx, p[j]);
      }
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < n; j++) sum += (p[j] = vexp(p[j] - mx));
      float* o = out + static_cast<size_t>(r) * HS;
      std::memset(o, 0, sizeof(float) * HS);
      for (int j = 0; j < n; j++) {
        const float w = p[j] / sum;
        const float* vj = vc + ((static_cast<size_t>(sq) * L + j) * NKV + g) * HS;
        for (int d = 0; d < HS; d++) o[d] += w * vj[d];
      }
    }
  }
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + vexp(-x)); }

void swiglu_forward(float* out, const float* gate, const float* up, int64_t N) {
#pragma omp parallel for schedule(static) if (N > kParallelWork)
  for (int64_t i = 0; i < N; i++) out[i] = gate[i] * sigmoidf(gate[i]) * up[i];
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t N) {
#pragma omp parallel for schedule(static) if (N > kParallelWork)
  for (int64_t i = 0; i < N; i++) {
    const float sg = sigmoidf(gate[i]);
    dgate[i] += dout[i] * up[i] * sg * (1.0f + gate[i] * (1.0f - sg));
    dup[i] += dout[i] * gate[i] * sg;
  }
}

void add(float* out, const float* a, const float* b, int64_t N) {
#pragma omp parallel for schedule(static) if (N > 4 * kParallelWork)
  for (int64_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void add_backward(float* da, float* db, const float* dout, int64_t N) {
  if (da) {
#pragma omp parallel for schedule(static) if (N > 4 * kParallelWork)
    for (int64_t i = 0; i < N; i++) da[i] += dout[i];
  }
  if (db) {
#pragma omp parallel for schedule(static) if (N > 4 * kParallelWork)
    for (int64_t i = 0; i < N; i++) db[i] += dout[i];
  }
}

void bias_add(float* out, const float* x, const float* bias, int N, int C) {
#pragma omp parallel for schedule(static) if (static_cast<long>(N) * C > 4 * kParallelWork)
  for (int n = 0; n < N; n++)
    for (int i = 0; i < C; i++) out[static_cast<size_t>(n) * C + i] = x[static_cast<size_t>(n) * C + i] + bias[i];
}

void bias_add_backward(float* dx, float* dbias, const float* dout, int N, int C) {
  if (dx) add_backward(dx, nullptr, dout, static_cast<int64_t>(N) * C);
  std::vector<double> acc(C, 0.0);
  for (int n = 0; n < N; n++)
    for (int i = 0; i < C; i++) acc[i] += dout[static_cast<size_t>(n) * C + i];
  for (int i = 0; i < C; i++) dbias[i] += static_cast<float>(acc[i]);
}

void token_logprobs_forward(float* logp, float* lse, const float* logits, const int32_t* targets, int N, int V) {
#pragma omp parallel for schedule(static) if (static_cast<long>(N) * V > kParallelWork)
  for (int n = 0; n < N; n++) {
    const float* row = logits + static_cast<size_t>(n) * V;
    lse[n] = logsumexp(row, V);
    logp[n] = row[targets[n]] - lse[n];
  }
}

void token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits, const int32_t* targets,
                             const float* lse, int N, int V) {
#pragma omp parallel for schedule(static) if (static_cast<long>(N) * V > kParallelWork)
  for (int n = 0; n < N; n++) {
    const float* row = logits + static_cast<size_t>(n) * V;
    float* d = dlogits + static_cast<size_t>(n) * V;
    const float g = dlogp[n], l = lse[n];
    if (g == 0.0f) continue;  // masked (prompt / padding) positions contribute nothing
#pragma omp simd
    for (int v = 0; v < V; v++) d[v] -= g * vexp(row[v] - l);
    d[targets[n]] += g;
  }
}

void adamw(float* p, const float* g, float* m, float* v, int64_t N, float lr, float beta1, float beta2, float eps,
           float wd, int step) {
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), step));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), step));
  const float decay = 1.0f - lr * wd;
#pragma omp parallel for schedule(static) if (N > kParallelWork)
  for (int64_t i = 0; i < N; i++) {
    m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
    v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
    p[i] = p[i] * decay - lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
  }
}

double sum_squares(const float* x, int64_t N) {
  double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s) if (N > 4 * kParallelWork)
  for (int64_t i = 0; i < N; i++) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void scale(float* x, float s, int64_t N) {
#pragma omp parallel for schedule(static) if (N > 4 * kParallelWork)
  for (int64_t i = 0; i < N; i++) x[i] *= s;
}

}  // namespace sso
