// Compiled and run by gemm-invariance.test.ts (when g++ is available): the built-in GEMM (native/cpu/gemm*.cc) must
// give, for every element, exactly the bits of the naive loop s = fma(a[i][k], b[k][j], s) over k = 0..K-1 from 0,
// then C = beta == 0 ? alpha·s : fma(alpha, s, beta·C) — on random shapes (odd sizes, K over several slices, leading
// dimensions with padding that must stay untouched), both transposes, alpha/beta variants; and matmul16 (a bf16 /
// fp16 B) against the same loop over the widened values. Built with -march=native and with a baseline without vector
// extensions, and run under each instruction set the CPU has (SSO_GEMM_ISA): all must pass, so every build and every
// run-time choice gives the same bits. Prints "ok <elements> (<instruction set>)" or the first mismatches, exit 1.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../../native/cpu/half.h"
#include "../../native/cpu/kernels.h"

int main() {
  std::mt19937 g(7);
  std::normal_distribution<float> d;
  const int dims[] = {1, 2, 3, 7, 8, 13, 14, 15, 16, 17, 31, 32, 33, 64, 65, 130, 257, 517};
  std::uniform_int_distribution<int> pick(0, sizeof(dims) / sizeof(dims[0]) - 1);
  long bad = 0, n = 0;
  for (int t = 0; t < 160; t++) {
    const int M = dims[pick(g)], N = dims[pick(g)], K = t % 10 == 0 ? 600 + 3 * t : dims[pick(g)];
    const bool ta = t & 1, tb = (t >> 1) & 1;
    const float alpha = t % 3 == 0 ? 0.5f : 1.0f, beta = t % 4 == 0 ? 1.0f : t % 4 == 1 ? 0.25f : 0.0f;
    const int lda = (ta ? M : K) + (t % 5 == 0 ? 3 : 0), ldb = (tb ? K : N) + (t % 7 == 0 ? 5 : 0);
    const int ldc = N + (t % 6 == 0 ? 2 : 0);
    std::vector<float> A(size_t(ta ? K : M) * lda), B(size_t(tb ? N : K) * ldb), C(size_t(M) * ldc);
    for (auto& x : A) x = d(g);
    for (auto& x : B) x = d(g);
    for (auto& x : C) x = d(g);
    const std::vector<float> C0 = C;
    sso::gemm_ex(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    for (int i = 0; i < M; i++)
      for (int j = 0; j < ldc; j++) {
        const float got = C[size_t(i) * ldc + j];
        float want = C0[size_t(i) * ldc + j];
        if (j < N) {
          float s = 0.0f;
          for (int k = 0; k < K; k++)
            s = std::fma(ta ? A[size_t(k) * lda + i] : A[size_t(i) * lda + k], tb ? B[size_t(j) * ldb + k] : B[size_t(k) * ldb + j], s);
          want = beta == 0.0f ? (alpha == 1.0f ? s : alpha * s) : std::fma(alpha, s, beta * want);
        }
        n++;
        if (std::memcmp(&got, &want, sizeof(float)) != 0 && bad++ < 5)
          std::printf("mismatch %dx%dx%d ta=%d tb=%d alpha=%g beta=%g at (%d,%d): %.9g, naive fma loop %.9g\n", M, N, K, ta, tb,
                      alpha, beta, i, j, got, want);
      }
  }
  // matmul16: B of bf16 / fp16 patterns (normals, subnormals, ±0; no inf/NaN), widened exactly while read.
  std::uniform_int_distribution<int> bits16(0, 0xffff);
  for (int t = 0; t < 80; t++) {
    const int M = dims[pick(g)], N = dims[pick(g)], K = t % 10 == 0 ? 600 + 3 * t : dims[pick(g)];
    const bool ta = t & 1, tb = (t >> 1) & 1, acc = (t >> 2) & 1, bf16 = (t >> 3) & 1;
    std::vector<float> A(size_t(M) * K), C(size_t(M) * N);
    std::vector<uint16_t> B(size_t(K) * N);
    for (auto& x : A) x = d(g);
    for (auto& x : C) x = d(g);
    for (auto& h : B) {
      h = static_cast<uint16_t>(bits16(g));
      if (bf16) h = (h & 0x807f) | ((0x30 + h % 0x20) << 7);  // exponents around 1
      else if (((h >> 10) & 0x1f) == 0x1f) h &= 0xbfff;         // no inf/NaN
    }
    const std::vector<float> C0 = C;
    sso::matmul16(C.data(), A.data(), B.data(), M, N, K, ta, tb, acc, 1, bf16);
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) {
          const uint16_t h = tb ? B[size_t(j) * K + k] : B[size_t(k) * N + j];
          const float w = bf16 ? sso::bf16_to_f32(h) : sso::f16_to_f32(h);
          s = std::fma(ta ? A[size_t(k) * M + i] : A[size_t(i) * K + k], w, s);
        }
        const float want = acc ? std::fma(1.0f, s, C0[size_t(i) * N + j]) : s, got = C[size_t(i) * N + j];
        n++;
        if (std::memcmp(&got, &want, sizeof(float)) != 0 && bad++ < 5)
          std::printf("mismatch matmul16 %dx%dx%d ta=%d tb=%d acc=%d bf16=%d at (%d,%d): %.9g, naive fma loop %.9g\n",
                      M, N, K, ta, tb, acc, bf16, i, j, got, want);
      }
  }
  // Panels (the decoding layout): C (M,N) [+ C] = A·Wᵀ from pack_panels(W), fp32 and 16-bit, against the same loop.
  for (int t = 0; t < 60; t++) {
    const int M = 1 + t % 5, N = dims[pick(g)], K = t % 10 == 0 ? 600 + 3 * t : dims[pick(g)];
    const bool acc = t & 1, half = (t >> 1) & 1, bf16 = (t >> 2) & 1;
    std::vector<float> A(size_t(M) * K), C(size_t(M) * N), W(size_t(N) * K), P(sso::panels_size(N, K));
    std::vector<uint16_t> W16(size_t(N) * K), P16(sso::panels_size(N, K));
    for (auto& x : A) x = d(g);
    for (auto& x : C) x = d(g);
    for (size_t i = 0; i < W.size(); i++) {
      uint16_t h = static_cast<uint16_t>(bits16(g));
      if (bf16) h = (h & 0x807f) | ((0x30 + h % 0x20) << 7);  // as above
      else if (((h >> 10) & 0x1f) == 0x1f) h &= 0xbfff;
      W16[i] = h;
      W[i] = half ? (bf16 ? sso::bf16_to_f32(h) : sso::f16_to_f32(h)) : d(g);
    }
    const std::vector<float> C0 = C;
    if (half) {
      sso::pack_panels16(P16.data(), W16.data(), N, K);
      sso::matmul_panels16(C.data(), A.data(), P16.data(), M, N, K, acc, bf16);
    } else {
      sso::pack_panels(P.data(), W.data(), N, K);
      sso::matmul_panels(C.data(), A.data(), P.data(), M, N, K, acc);
    }
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) s = std::fma(A[size_t(i) * K + k], W[size_t(j) * K + k], s);
        const float want = acc ? std::fma(1.0f, s, C0[size_t(i) * N + j]) : s, got = C[size_t(i) * N + j];
        n++;
        if (std::memcmp(&got, &want, sizeof(float)) != 0 && bad++ < 5)
          std::printf("mismatch panels %dx%dx%d acc=%d half=%d bf16=%d at (%d,%d): %.9g, naive fma loop %.9g\n", M, N, K,
                      acc, half, bf16, i, j, got, want);
      }
  }
  if (bad) {
    std::printf("%ld of %ld elements differ (%s)\n", bad, n, sso::gemm_isa());
    return 1;
  }
  std::printf("ok %ld (%s)\n", n, sso::gemm_isa());
  return 0;
}
