// GEMM for the cpu backend. The default is a built-in, batch-invariant GEMM: every output element C[i][j] is one
// sequential chain of fused multiply-adds over k = 0..K-1 in fp32, starting from 0, followed by the same epilogue
// (alpha, beta), whatever M, N, the tile the element falls in, the transposes, the thread count or the ISA path
// (vector lanes, masked edge lanes and the scalar fallback all do the same fma per element). So a row's result is
// bitwise the same alone or in any batch, which is what the exactness promises (batch-independent log-probs,
// byte-identical resume, remote = local) rest on. OpenBLAS, when linked, is an opt-in (SSO_GEMM=blas or setGemm):
// faster, but its kernels pick shape-dependent summation orders, so results can differ in the last bits by shape.
//
// Design (BLIS-like): C is split into one rectangle per thread; each thread runs the serial blocked algorithm on it:
// blocks of MC rows × NC columns, K in KC-deep slices; the A slice is packed into MR-row micro-panels (k-major), the
// B slice into NR-column micro-panels (k-major, zero padded; a transposed B through 8 × 8 register transposes; a
// non-transposed B is read in place when C has few rows); a register-blocked micro-kernel keeps an MR × NR tile of
// accumulators (1 × 4NR or 2 × 2NR for one or two rows of C, so that enough independent chains hide the fma latency).
// Between K slices the running sums are stored (to C itself, or to a scratch tile when beta ≠ 0) and reloaded, so the
// chain per element is unchanged by the blocking. Edge tiles use masked loads/stores (or a narrower instantiation in
// M), never a different summation. One or two rows against a transposed B (decoding) skip packing altogether.
// Checked while writing it: every element bitwise equal to a naive std::fma loop over k (AVX2 and scalar builds; the
// AVX-512 path compiles but was not run, the development VM hides AVX-512, so it is off unless SSO_GEMM_AVX512). test/backends/gemm-invariance.test.ts
// tests the properties that matter: rows alone = in any batch, agreement with `ref`, same bytes at 1-3 threads.
// B may also hold 16-bit patterns (bf16 / fp16 frozen weights, matmul16): they are widened exactly while B is packed
// (or, on the decode path, while its rows are transposed in registers), so the micro-kernels and every fma chain are
// the fp32 ones and a product with a 16-bit B has the bits of the product with its widened fp32 twin.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <type_traits>
#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#include "half.h"
#include "kernels.h"

#ifdef SSO_HAVE_CBLAS
#include <cblas.h>
#endif

namespace sso {
namespace {

// ---- the vector ISA the micro-kernel is written in ----------------------------------------------------------------
// The AVX-512 kernel is opt-in (build with -DSSO_GEMM_AVX512) until a machine with AVX-512 has run the bitwise tests
// on it; AVX-512 machines use the AVX2 kernel meanwhile, which they also execute.
#if defined(__AVX512F__) && defined(SSO_GEMM_AVX512)
struct Isa {
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static constexpr int MR = 14, NV = 2;  // 28 accumulators + 2 B vectors + 1 broadcast of 32 zmm
  static constexpr const char* name = "AVX-512";
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V loadm(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void storem(float* p, V v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static M mask(int n) { return n >= 16 ? static_cast<M>(0xFFFF) : static_cast<M>((1u << n) - 1u); }
};
#elif defined(__AVX2__) && defined(__FMA__)
struct Isa {
  using V = __m256;
  using M = __m256i;
  static constexpr int L = 8;
#ifndef SSO_GEMM_AVX2_MR
#define SSO_GEMM_AVX2_MR 6
#define SSO_GEMM_AVX2_NV 2
#endif
  static constexpr int MR = SSO_GEMM_AVX2_MR, NV = SSO_GEMM_AVX2_NV;  // 6×2: 12 accumulators + 2 + 1 of 16 ymm
  static constexpr const char* name = "AVX2+FMA";
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V loadm(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void storem(float* p, V v, M m) { _mm256_maskstore_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static M mask(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
};
#else
struct Isa {  // portable: one lane, std::fma, so the same bits as the vector paths
  using V = float;
  using M = bool;
  static constexpr int L = 1;
  static constexpr int MR = 4, NV = 4;
  static constexpr const char* name = "portable scalar";
  static V zero() { return 0.0f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static V loadm(const float* p, M m) { return m ? *p : 0.0f; }
  static void store(float* p, V v) { *p = v; }
  static void storem(float* p, V v, M m) {
    if (m) *p = v;
  }
  static V fma(V a, V b, V c) { return std::fma(a, b, c); }
  static V mul(V a, V b) { return a * b; }
  static M mask(int n) { return n > 0; }
};
#endif

constexpr int MR = Isa::MR, NV = Isa::NV, L = Isa::L, NR = NV * L;

// ---- what B holds: fp32, or 16-bit patterns widened exactly as they are read (one, four or eight at a time) --------
struct F32B {
  using T = float;
  static float one(const T* p) { return *p; }
#ifdef __AVX__
  static __m128 four(const T* p) { return _mm_loadu_ps(p); }
  static __m256 eight(const T* p) { return _mm256_loadu_ps(p); }
#endif
};
struct Bf16B {
  using T = uint16_t;
  static float one(const T* p) { return bf16_to_f32(*p); }
#ifdef __AVX__
  static __m128 four(const T* p) {
    const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16));
  }
#ifdef __AVX2__
  static __m256 eight(const T* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
#else
  static __m256 eight(const T* p) { return _mm256_insertf128_ps(_mm256_castps128_ps256(four(p)), four(p + 4), 1); }
#endif
#endif
};
struct F16B {
  using T = uint16_t;
  static float one(const T* p) { return f16_to_f32(*p); }
#if defined(__AVX__) && defined(__F16C__)
  static __m128 four(const T* p) { return _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  static __m256 eight(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
#elif defined(__AVX__)
  static __m128 four(const T* p) { return _mm_setr_ps(one(p), one(p + 1), one(p + 2), one(p + 3)); }
  static __m256 eight(const T* p) { return _mm256_insertf128_ps(_mm256_castps128_ps256(four(p)), four(p + 4), 1); }
#endif
};
#ifndef SSO_GEMM_KC
#define SSO_GEMM_KC 384
#endif
#ifndef SSO_GEMM_NC
#define SSO_GEMM_NC 1024
#endif
#ifndef SSO_GEMM_MC
#define SSO_GEMM_MC 576
#endif
// Loop order per thread: MC rows × NC columns × KC-deep slices; inside, each B micro-panel (KC × NR, L1-resident)
// meets every A micro-panel (MR × KC) of the packed A slice in turn. Sizes measured on a Zen 4 (AVX2 visible, 32 KiB
// L1d, 512 KiB L2), single thread, 1024³: KC 384 / NC 1024 / MC 576 → 87 GFLOPS (OpenBLAS 96); 256/256/96 → 63.
constexpr int KC = SSO_GEMM_KC;
constexpr int NC = SSO_GEMM_NC;
constexpr int MC = SSO_GEMM_MC / MR * MR;

// C tile (mr ≤ MR rows × nr ≤ NR columns) over one K slice. A: packed, row r of step k at A[k*MR + r].
// B: row k at B + k*bs (packed: bs = NR, zero padded; unpacked: bs = ldb, read only under the mask when EDGE).
// first: the chain starts at 0, else continues from W. last: C = epilogue(sum), else the running sum goes to W.
// P > 1 (full panels only): P adjacent micro-panels at once, panel p at B + p*ps: for one or two rows of C, where
// MR × NR would leave too few independent fma chains to hide the fma latency.
template <int R, int P, bool EDGE>
void ukr(int kc, const float* A, const float* B, long bs, long ps, int nr, float* W, long ldw, bool first, bool last,
         float* C, long ldc, float alpha, float beta) {
  using V = Isa::V;
  constexpr int NT = P * NV;
  typename Isa::M m[NT];
  if (EDGE)
    for (int v = 0; v < NT; v++) m[v] = Isa::mask(std::min(std::max(nr - v * L, 0), L));
  V acc[R][NT];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 8
    for (int v = 0; v < NT; v++)
      acc[r][v] = first ? Isa::zero() : EDGE ? Isa::loadm(W + r * ldw + v * L, m[v]) : Isa::load(W + r * ldw + v * L);
  for (int k = 0; k < kc; k++) {
    V b[NT];
#pragma GCC unroll 8
    for (int v = 0; v < NT; v++) {
      const float* bv = B + (v / NV) * ps + (v % NV) * L;
      b[v] = EDGE ? Isa::loadm(bv, m[v]) : Isa::load(bv);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      const V a = Isa::set1(A[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NT; v++) acc[r][v] = Isa::fma(a, b[v], acc[r][v]);
    }
    A += MR;
    B += bs;
  }
  if (!last) {
    for (int r = 0; r < R; r++)
      for (int v = 0; v < NT; v++) {
        if (EDGE)
          Isa::storem(W + r * ldw + v * L, acc[r][v], m[v]);
        else
          Isa::store(W + r * ldw + v * L, acc[r][v]);
      }
    return;
  }
  // Epilogue, the same for every element: beta = 0: alpha·s (s itself when alpha = 1); else fma(alpha, s, beta·C).
  const V va = Isa::set1(alpha), vb = Isa::set1(beta);
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NT; v++) {
      float* c = C + r * ldc + v * L;
      V out;
      if (beta == 0.0f) {
        out = alpha == 1.0f ? acc[r][v] : Isa::mul(va, acc[r][v]);
      } else {
        const V cv = EDGE ? Isa::loadm(c, m[v]) : Isa::load(c);
        out = Isa::fma(va, acc[r][v], Isa::mul(vb, cv));
      }
      if (EDGE)
        Isa::storem(c, out, m[v]);
      else
        Isa::store(c, out);
    }
}

using Ukr = void (*)(int, const float*, const float*, long, long, int, float*, long, bool, bool, float*, long, float,
                     float);

template <int... Rs>
struct UkrTable {
  static constexpr Ukr full[] = {nullptr, &ukr<Rs, 1, false>...};
  static constexpr Ukr edge[] = {nullptr, &ukr<Rs, 1, true>...};
};
template <int... Is>
constexpr UkrTable<(Is + 1)...> make_table(std::integer_sequence<int, Is...>) {
  return {};
}
using Table = decltype(make_table(std::make_integer_sequence<int, MR>{}));

// 64-byte aligned, grow-only scratch, one per thread.
struct Buf {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      cap = std::max(n, cap * 2);
      p = static_cast<float*>(std::aligned_alloc(64, ((cap * sizeof(float) + 63) / 64) * 64));
    }
    return p;
  }
  ~Buf() { std::free(p); }
};
thread_local Buf tl_a, tl_b, tl_w;

// op(A)[i][k] for rows i0.., k0.. packed into micro-panels of MR rows: panel p, step k, row r at [(p*kc + k)*MR + r].
// Reads follow the source's contiguous direction (4 KiB-strided rows of 1024-wide matrices alias in L1 otherwise).
void pack_a(float* dst, const float* A, long lda, bool ta, int mc, int kc) {
  if (ta) {  // op(A)[i][k] = A[k*lda + i]: row k of the source holds all mc rows of step k
    for (int k = 0; k < kc; k++) {
      const float* s = A + k * lda;
      for (int i0 = 0; i0 < mc; i0 += MR) {
        const int mr = std::min(MR, mc - i0);
        float* d = dst + static_cast<size_t>(i0) * kc + k * MR;
        for (int r = 0; r < mr; r++) d[r] = s[i0 + r];
        for (int r = mr; r < MR; r++) d[r] = 0.0f;
      }
    }
    return;
  }
  for (int i0 = 0; i0 < mc; i0 += MR) {
    const int mr = std::min(MR, mc - i0);
    float* d = dst + static_cast<size_t>(i0) * kc;
    for (int k0 = 0; k0 < kc; k0 += 16) {
      const int k1 = std::min(kc, k0 + 16);
      for (int r = 0; r < mr; r++) {
        const float* s = A + (i0 + r) * lda;
        for (int k = k0; k < k1; k++) d[k * MR + r] = s[k];
      }
      for (int r = mr; r < MR; r++)
        for (int k = k0; k < k1; k++) d[k * MR + r] = 0.0f;
    }
  }
}

#ifdef __AVX__
// out[k][c] = src[c*lds + k] for an 8 × 8 block, in registers.
template <class S>
inline void transpose8(const typename S::T* src, long lds, __m256 out[8]) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; i++) r[i] = S::eight(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; i++) {
    out[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    out[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
}

// dst[k*ldd + c] = src[c*lds + k] for an 8 × 8 block.
template <class S>
inline void transpose8(const typename S::T* src, long lds, float* dst, long ldd) {
  __m256 out[8];
  transpose8<S>(src, lds, out);
  for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + i * ldd, out[i]);
}
#endif

// op(B)[k][j] for k0.., j0.. packed into micro-panels of NR columns: panel p, step k, column c at [(p*kc + k)*NR + c].
// A 16-bit B is widened here.
template <class S>
void pack_b(float* dst, const typename S::T* B, long ldb, bool tb, int kc, int nc) {
  if (!tb) {  // row k of the source is contiguous over j
    for (int k = 0; k < kc; k++) {
      const typename S::T* s = B + k * ldb;
      for (int j0 = 0; j0 < nc; j0 += NR) {
        const int nr = std::min(NR, nc - j0);
        float* d = dst + static_cast<size_t>(j0) * kc + k * NR;
        if constexpr (std::is_same_v<S, F32B>) {
          std::memcpy(d, s + j0, sizeof(float) * nr);
        } else {
          int c = 0;
#ifdef __AVX__
          for (; c + 8 <= nr; c += 8) _mm256_storeu_ps(d + c, S::eight(s + j0 + c));
#endif
          for (; c < nr; c++) d[c] = S::one(s + j0 + c);
        }
        for (int c = nr; c < NR; c++) d[c] = 0.0f;
      }
    }
    return;
  }
  for (int j0 = 0; j0 < nc; j0 += NR) {  // op(B)[k][j] = B[j*ldb + k]: transpose 8 × 8 blocks
    const int nr = std::min(NR, nc - j0);
    float* d = dst + static_cast<size_t>(j0) * kc;
    int c0 = 0;
#ifdef __AVX__
    for (; c0 + 8 <= nr; c0 += 8) {
      const typename S::T* s = B + (j0 + c0) * ldb;
      int k = 0;
      for (; k + 8 <= kc; k += 8) transpose8<S>(s + k, ldb, d + k * NR + c0, NR);
      for (; k < kc; k++)
        for (int c = 0; c < 8; c++) d[k * NR + c0 + c] = S::one(s + c * ldb + k);
    }
#endif
    for (int k0 = 0; k0 < kc; k0 += 16) {
      const int k1 = std::min(kc, k0 + 16);
      for (int c = c0; c < nr; c++) {
        const typename S::T* s = B + (j0 + c) * ldb;
        for (int k = k0; k < k1; k++) d[k * NR + c] = S::one(s + k);
      }
      for (int c = nr; c < NR; c++)
        for (int k = k0; k < k1; k++) d[k * NR + c] = 0.0f;
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// One or two rows of C against a transposed B (batch-1/2 decoding through a weight stored as rows): no packing.
// Columns go 8 at a time through 8 × 8 register transposes of B's rows, four groups at once for independent chains;
// every element is still the fma chain over k = 0..K-1 from 0 and the micro-kernel's epilogue, so the bits equal
// those of any other path. Leftover columns (fewer than 8) run the same chain with std::fma.
// k..k+3 of the 8 B rows at b (row stride ldb), as 4 column vectors: rows c and c+4 share a register
// ([k..k+3 of row c | of row c+4]) and an in-lane 4 × 4 transpose makes the columns. Few registers, so that the
// accumulators of several groups stay in registers.
template <class S>
__attribute__((always_inline)) inline void columns4(const typename S::T* b, long ldb, __m256 col[4]) {
  __m256 x[4];
  for (int i = 0; i < 4; i++)
    x[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(S::four(b + i * ldb)), S::four(b + (i + 4) * ldb), 1);
  const __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
  const __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
  col[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  col[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  col[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  col[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

// Columns j0..j0+8G-1 of R rows: G groups of 8 columns, G and R compile-time so the accumulators stay in registers.
template <int R, int G, class S>
void rows_tb_block(int j0, int K, float alpha, const float* A, long lda, const typename S::T* B, long ldb, float beta,
                   float* C, long ldc) {
  __m256 acc[R][G];
  for (int r = 0; r < R; r++)
    for (int g = 0; g < G; g++) acc[r][g] = _mm256_setzero_ps();
  const typename S::T* b = B + j0 * ldb;
  // Per group, the steps of k of one whole 64-byte line of each of its 8 rows (16 fp32, 32 16-bit) before the next
  // group: B rows with a power-of-two stride all fall in one L1 set, so a line must be used up while it is there
  // (K = 1024: 3 → 20 GFLOPS).
  constexpr int line = 64 / sizeof(typename S::T);
  int k0 = 0;
  for (const int step : {line, 4})
    for (; k0 + step <= K; k0 += step)
      for (int g = 0; g < G; g++) {
        // Two lines ahead in each row: 32 row streams at once are more than the hardware prefetcher follows
        // (1×8192×384 from L3: 7.6 → 12.7 GFLOPS single-threaded).
        for (int i = 0; i < 8; i++)
          _mm_prefetch(reinterpret_cast<const char*>(b + (g * 8 + i) * ldb + k0) + 128, _MM_HINT_T0);
        for (int q = 0; q < step; q += 4) {
          __m256 col[4];
          columns4<S>(b + g * 8 * ldb + k0 + q, ldb, col);
          for (int kk = 0; kk < 4; kk++)
            for (int r = 0; r < R; r++)
              acc[r][g] = _mm256_fmadd_ps(_mm256_set1_ps(A[r * lda + k0 + q + kk]), col[kk], acc[r][g]);
        }
      }
  for (; k0 < K; k0++)
    for (int g = 0; g < G; g++) {
      const typename S::T* bg = b + 8 * g * ldb + k0;
      const __m256 col = _mm256_setr_ps(S::one(bg), S::one(bg + ldb), S::one(bg + 2 * ldb), S::one(bg + 3 * ldb),
                                        S::one(bg + 4 * ldb), S::one(bg + 5 * ldb), S::one(bg + 6 * ldb),
                                        S::one(bg + 7 * ldb));
      for (int r = 0; r < R; r++) acc[r][g] = _mm256_fmadd_ps(_mm256_set1_ps(A[r * lda + k0]), col, acc[r][g]);
    }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  for (int r = 0; r < R; r++)
    for (int g = 0; g < G; g++) {  // the micro-kernel's epilogue
      float* c = C + r * ldc + j0 + 8 * g;
      __m256 out;
      if (beta == 0.0f)
        out = alpha == 1.0f ? acc[r][g] : _mm256_mul_ps(va, acc[r][g]);
      else
        out = _mm256_fmadd_ps(va, acc[r][g], _mm256_mul_ps(vb, _mm256_loadu_ps(c)));
      _mm256_storeu_ps(c, out);
    }
}

template <int R, class S>
void gemm_rows_tb(int N, int K, float alpha, const float* A, long lda, const typename S::T* B, long ldb, float beta,
                  float* C, long ldc) {
  int j0 = 0;
  for (; j0 + 32 <= N; j0 += 32) rows_tb_block<R, 4, S>(j0, K, alpha, A, lda, B, ldb, beta, C, ldc);
  for (; j0 + 8 <= N; j0 += 8) rows_tb_block<R, 1, S>(j0, K, alpha, A, lda, B, ldb, beta, C, ldc);
  for (; j0 < N; j0++)
    for (int r = 0; r < R; r++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s = std::fma(A[r * lda + k], S::one(B + j0 * ldb + k), s);
      float& c = C[r * ldc + j0];
      c = beta == 0.0f ? (alpha == 1.0f ? s : alpha * s) : std::fma(alpha, s, beta * c);
    }
}
#endif

// The serial blocked algorithm on one rectangle of C. A, B, C already point at its first row / column.
template <class S>
void gemm_serial(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, long lda, const typename S::T* B,
                 long ldb, float beta, float* C, long ldc) {
#if defined(__AVX2__) && defined(__FMA__)
  if (tb && !ta && M <= 2) {
    (M == 1 ? gemm_rows_tb<1, S> : gemm_rows_tb<2, S>)(N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  // Few rows: each B element is used by at most two micro-tiles, so packing B costs more than it saves when its
  // rows are contiguous: read it in place, masked at the right edge. Same arithmetic either way. (16-bit: packed.)
  constexpr bool fp32 = std::is_same_v<S, F32B>;
  const bool pack_B = M > 2 * MR || tb || !fp32;
  const bool multi = K > KC;
  const bool scratch_w = multi && beta != 0.0f;  // running sums cannot live in C while C's old values are needed
  float* Ap = tl_a.get(static_cast<size_t>(std::min(MC, M) + MR) * KC);
  float* Bp = pack_B ? tl_b.get(static_cast<size_t>(std::min(NC, N) + NR) * KC) : nullptr;
  float* Wb = scratch_w ? tl_w.get(static_cast<size_t>(MC) * NC) : nullptr;
  for (int i0 = 0; i0 < M; i0 += MC) {
    const int mc = std::min(MC, M - i0);
    for (int j0 = 0; j0 < N; j0 += NC) {
      const int nc = std::min(NC, N - j0);
      float* Cb = C + i0 * ldc + j0;
      float* W = scratch_w ? Wb : Cb;
      const long ldw = scratch_w ? NC : ldc;
      for (int p0 = 0; p0 < K; p0 += KC) {
        const int kc = std::min(KC, K - p0);
        const bool first = p0 == 0, last = p0 + kc == K;
        pack_a(Ap, ta ? A + p0 * lda + i0 : A + i0 * lda + p0, lda, ta, mc, kc);
        if (pack_B) pack_b<S>(Bp, tb ? B + j0 * ldb + p0 : B + p0 * ldb + j0, ldb, tb, kc, nc);
        // B micro-panel (KC × NR) outer, so it stays in L1 while the A micro-panels stream from L2.
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          const float* b = Bp + static_cast<size_t>(jr) * kc;
          if constexpr (fp32)
            if (!pack_B) b = B + p0 * ldb + j0 + jr;
          const long bs = pack_B ? NR : ldb, ps = pack_B ? static_cast<long>(kc) * NR : NR;
          const int P = mc == 1 ? 4 : 2;
          if (mc <= 2 && jr + P * NR <= nc) {  // one or two rows: several panels per call
            (mc == 1 ? &ukr<1, 4, false> : &ukr<2, 2, false>)(kc, Ap, b, bs, ps, NR, W + jr, ldw, first, last, Cb + jr,
                                                              ldc, alpha, beta);
            jr += (P - 1) * NR;
            continue;
          }
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            const float* a = Ap + static_cast<size_t>(ir) * kc;
            const Ukr f = nr == NR ? Table::full[mr] : Table::edge[mr];
            f(kc, a, b, bs, ps, nr, W + ir * ldw + jr, ldw, first, last, Cb + ir * ldc + jr, ldc, alpha, beta);
          }
        }
      }
    }
  }
}

template <class S>
void gemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, long lda, const typename S::T* B,
                  long ldb, float beta, float* C, long ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // the empty sum: C = beta·C
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  int nt = 1;
#ifdef _OPENMP
  // Inside another parallel region (attention's tiles) this runs serially on the calling thread.
  if (!omp_in_parallel() && static_cast<double>(M) * N * K >= static_cast<double>(1 << 18)) nt = omp_get_max_threads();
#endif
  // Split C into tm × tn rectangles on micro-tile boundaries, choosing the grid with the smallest largest share.
  const int mp = (M + MR - 1) / MR, np = (N + NR - 1) / NR;
  int tm = 1, tn = 1;
  long best = -1;
  for (int a = 1; a <= nt; a++) {
    if (nt % a) continue;
    const int b = nt / a;
    if (a > mp || b > np) continue;
    long cost = static_cast<long>((mp + a - 1) / a) * ((np + b - 1) / b);
    if (ta && a > 1) cost = cost * 95 / 100;  // measured: a transposed A (weight gradients) prefers a row split
    if (best < 0 || cost < best) best = cost, tm = a, tn = b;
  }
  if (best < 0 || tm * tn == 1) {
    gemm_serial<S>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(tm * tn)
  {
    const int t = omp_get_thread_num(), ti = t / tn, tj = t % tn;
    const int r0 = (mp * ti / tm) * MR, r1 = std::min(M, (mp * (ti + 1) / tm) * MR);
    const int c0 = (np * tj / tn) * NR, c1 = std::min(N, (np * (tj + 1) / tn) * NR);
    if (r1 > r0 && c1 > c0)
      gemm_serial<S>(ta, tb, r1 - r0, c1 - c0, K, alpha, ta ? A + r0 : A + r0 * lda, lda, tb ? B + c0 * ldb : B + c0,
                  ldb, beta, C + r0 * ldc + c0, ldc);
  }
#endif
}

std::atomic<int> g_mode{0};  // 0: built-in, 1: BLAS

}  // namespace

const char* gemm_isa() { return Isa::name; }

#ifdef SSO_HAVE_CBLAS
bool has_blas() { return true; }
const char* blas_name() { return "OpenBLAS (CBLAS)"; }
SerialBlas::SerialBlas() : saved(openblas_get_num_threads()) { openblas_set_num_threads(1); }
SerialBlas::~SerialBlas() { openblas_set_num_threads(saved); }
#else
bool has_blas() { return false; }
const char* blas_name() { return "no BLAS (built without OpenBLAS)"; }
SerialBlas::SerialBlas() : saved(0) {}
SerialBlas::~SerialBlas() {}
#endif

bool set_gemm_blas(bool blas) {
  if (blas && !has_blas()) return false;
  g_mode.store(blas ? 1 : 0);
  return true;
}
bool gemm_uses_blas() { return g_mode.load() == 1; }

void gemm_ex(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
             float beta, float* C, int ldc) {
#ifdef SSO_HAVE_CBLAS
  if (gemm_uses_blas()) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
    return;
  }
#endif
  gemm_builtin<F32B>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void matmul(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, bool acc, int batch) {
  const size_t sa = static_cast<size_t>(M) * K, sb = static_cast<size_t>(K) * N, sc = static_cast<size_t>(M) * N;
  for (int p = 0; p < batch; p++) {
    if (K == 0) {  // BLAS leaves C untouched for K = 0; define it as the empty sum
      if (!acc) std::memset(c + p * sc, 0, sizeof(float) * sc);
      continue;
    }
#ifdef SSO_HAVE_CBLAS
    // BLAS mode only: a single row is a matrix-vector product, and BLAS's GEMV is several times faster than its GEMM
    // there (1×8192×384: 1.1 → 0.3 ms), but it sums in another order than a row of a GEMM, hence not by default.
    if (M == 1 && !ta && gemm_uses_blas()) {
      cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, 1.0f, b + p * sb, tb ? K : N,
                  a + p * sa, 1, acc ? 1.0f : 0.0f, c + p * sc, 1);
      continue;
    }
#endif
    gemm_ex(ta, tb, M, N, K, 1.0f, a + p * sa, ta ? M : K, b + p * sb, tb ? K : N, acc ? 1.0f : 0.0f, c + p * sc, N);
  }
}

void matmul16(float* c, const float* a, const uint16_t* b, int M, int N, int K, bool ta, bool tb, bool acc, int batch,
              bool bf16) {
  const size_t sa = static_cast<size_t>(M) * K, sb = static_cast<size_t>(K) * N, sc = static_cast<size_t>(M) * N;
  const auto gemm = bf16 ? gemm_builtin<Bf16B> : gemm_builtin<F16B>;
  for (int p = 0; p < batch; p++) {
    if (K == 0) {
      if (!acc) std::memset(c + p * sc, 0, sizeof(float) * sc);
      continue;
    }
    gemm(ta, tb, M, N, K, 1.0f, a + p * sa, ta ? M : K, b + p * sb, tb ? K : N, acc ? 1.0f : 0.0f, c + p * sc, N);
  }
}

}  // namespace sso
