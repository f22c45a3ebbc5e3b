// Hand-written CPU kernels (everything but GEMM), parallelised with OpenMP where the work is large enough to pay
// for waking the second core. Each kernel mirrors its twin in src/backends/ref/index.ts; the parity tests compare
// them. Reductions that feed gradients are done in double or in per-row order so results are deterministic
// for a given thread count and work split.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"

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
  for (int d = 0; d < n; d++) s += a[d] * b[d];
  return s;
}

// Work items of attention: one (query row, head) pair each; their cost grows with the row's position.
static long attention_work(const AttnShape& s) {
  long w = 0;
  for (int q = 0; q < s.S; q++) {
    const long L = s.cu_seqlens[q + 1] - s.cu_seqlens[q];
    w += L * (L + 1) / 2;
  }
  return w * s.NH * s.HS;
}

// For token i, the first row of its sequence.
static std::vector<int32_t> sequence_starts(const AttnShape& s) {
  const int T = s.cu_seqlens[s.S];
  std::vector<int32_t> start(T);
  for (int q = 0; q < s.S; q++)
    for (int i = s.cu_seqlens[q]; i < s.cu_seqlens[q + 1]; i++) start[i] = s.cu_seqlens[q];
  return start;
}

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& s) {
  const int T = s.cu_seqlens[s.S], NH = s.NH, NKV = s.NKV, HS = s.HS, group = NH / NKV;
  const std::vector<int32_t> start = sequence_starts(s);
#pragma omp parallel if (attention_work(s) > kParallelWork)
  {
    std::vector<float> p;
#pragma omp for schedule(dynamic, 16)
    for (long r = 0; r < static_cast<long>(T) * NH; r++) {
      const int i = static_cast<int>(r / NH), h = static_cast<int>(r % NH), g = h / group, j0 = start[i];
      const float* qi = q + static_cast<size_t>(r) * HS;
      p.resize(i - j0 + 1);
      float mx = -INFINITY;
      for (int j = j0; j <= i; j++) {
        const float sc = dot(qi, k + (static_cast<size_t>(j) * NKV + g) * HS, HS) * s.scale;
        p[j - j0] = sc;
        mx = std::max(mx, sc);
      }
      float sum = 0;
      for (int j = j0; j <= i; j++) sum += (p[j - j0] = std::exp(p[j - j0] - mx));
      lse[r] = mx + std::log(sum);
      const float inv = 1.0f / sum;
      float* o = out + static_cast<size_t>(r) * HS;
      std::memset(o, 0, sizeof(float) * HS);
      for (int j = j0; j <= i; j++) {
        const float w = p[j - j0] * inv;
        const float* vj = v + (static_cast<size_t>(j) * NKV + g) * HS;
        for (int d = 0; d < HS; d++) o[d] += w * vj[d];
      }
    }
  }
}

// Two race-free passes, each recomputing p_ij = exp(s_ij − lse_i) and ds_ij = p_ij·(do_i·v_j − do_i·o_i):
// query-major for dq (rows independent), key-major for dk and dv (each key row sums over its later queries and
// over the query heads of its group).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const AttnShape& s) {
  const int T = s.cu_seqlens[s.S], NH = s.NH, NKV = s.NKV, HS = s.HS, group = NH / NKV;
  const std::vector<int32_t> start = sequence_starts(s);
  std::vector<int32_t> end(T);
  for (int qq = 0; qq < s.S; qq++)
    for (int i = s.cu_seqlens[qq]; i < s.cu_seqlens[qq + 1]; i++) end[i] = s.cu_seqlens[qq + 1];
  std::vector<float> D(static_cast<size_t>(T) * NH);  // D_i = do_i·o_i per (row, head)
  const bool par = attention_work(s) > kParallelWork;
#pragma omp parallel if (par)
  {
#pragma omp for schedule(static)
    for (long r = 0; r < static_cast<long>(T) * NH; r++)
      D[r] = dot(dout + static_cast<size_t>(r) * HS, out + static_cast<size_t>(r) * HS, HS);
#pragma omp for schedule(dynamic, 16)
    for (long r = 0; r < static_cast<long>(T) * NH; r++) {
      const int i = static_cast<int>(r / NH), h = static_cast<int>(r % NH), g = h / group;
      const float* qi = q + static_cast<size_t>(r) * HS;
      const float* doi = dout + static_cast<size_t>(r) * HS;
      float* dqi = dq + static_cast<size_t>(r) * HS;
      for (int j = start[i]; j <= i; j++) {
        const size_t ko = (static_cast<size_t>(j) * NKV + g) * HS;
        const float p = std::exp(dot(qi, k + ko, HS) * s.scale - lse[r]);
        const float ds = p * (dot(doi, v + ko, HS) - D[r]) * s.scale;
        for (int d = 0; d < HS; d++) dqi[d] += ds * k[ko + d];
      }
    }
#pragma omp for schedule(dynamic, 16)
    for (long r = 0; r < static_cast<long>(T) * NKV; r++) {
      const int j = static_cast<int>(r / NKV), g = static_cast<int>(r % NKV);
      const float* kj = k + static_cast<size_t>(r) * HS;
      const float* vj = v + static_cast<size_t>(r) * HS;
      float* dkj = dk + static_cast<size_t>(r) * HS;
      float* dvj = dv + static_cast<size_t>(r) * HS;
      for (int i = j; i < end[j]; i++) {
        for (int h = g * group; h < (g + 1) * group; h++) {
          const size_t qo = (static_cast<size_t>(i) * NH + h) * HS;
          const float p = std::exp(dot(q + qo, kj, HS) * s.scale - lse[static_cast<size_t>(i) * NH + h]);
          const float ds = p * (dot(dout + qo, vj, HS) - D[static_cast<size_t>(i) * NH + h]) * s.scale;
          for (int d = 0; d < HS; d++) {
            dvj[d] += p * dout[qo + d];
            dkj[d] += ds * q[qo + d];
          }
        }
      }
    }
  }
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
      for (int j = 0; j < n; j++) sum += (p[j] = std::exp(p[j] - mx));
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

static inline float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }

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
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = std::max(mx, row[v]);
    double sum = 0;
    for (int v = 0; v < V; v++) sum += std::exp(row[v] - mx);
    lse[n] = mx + static_cast<float>(std::log(sum));
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
    for (int v = 0; v < V; v++) d[v] -= g * std::exp(row[v] - l);
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
