// GEMM for the cpu backend: CBLAS (OpenBLAS) when the build found it, otherwise a simple cache-friendly built-in
// loop (correct, multi-threaded, but several times slower). Not a tuned GEMM: that is BLAS's job.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"

#ifdef SSO_HAVE_CBLAS
#include <cblas.h>
#endif

namespace sso {

#ifdef SSO_HAVE_CBLAS
bool has_blas() { return true; }
const char* blas_name() { return "OpenBLAS (CBLAS)"; }

void gemm_ex(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
             float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}

SerialBlas::SerialBlas() : saved(openblas_get_num_threads()) { openblas_set_num_threads(1); }
SerialBlas::~SerialBlas() { openblas_set_num_threads(saved); }
#else
bool has_blas() { return false; }
const char* blas_name() { return "built-in GEMM (no BLAS found at build time)"; }

// Copies op(X) of logical shape (R, Cc), stored with leading dimension ld, into a dense row-major buffer.
static const float* pack(std::vector<float>& buf, const float* x, int R, int Cc, int ld, bool trans) {
  if (!trans && ld == Cc) return x;
  buf.resize(static_cast<size_t>(R) * Cc);
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Cc; q++)
      buf[static_cast<size_t>(r) * Cc + q] = trans ? x[static_cast<size_t>(q) * ld + r] : x[static_cast<size_t>(r) * ld + q];
  return buf.data();
}

void gemm_ex(bool ta, bool tb, int M, int N, int K, float alpha, const float* a, int lda, const float* b, int ldb,
             float beta, float* c, int ldc) {
  std::vector<float> abuf, bbuf;
  const float* A = pack(abuf, a, M, K, lda, ta);  // (M,K)
  const float* B = pack(bbuf, b, K, N, ldb, tb);  // (K,N)
  const int KB = 256;
  // Inside another parallel region this runs on the calling thread only (nested parallelism is off).
#pragma omp parallel if (static_cast<long>(M) * N * K > (1L << 16))
  {
    std::vector<float> acc(N);
#pragma omp for schedule(static)
    for (int i = 0; i < M; i++) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int k0 = 0; k0 < K; k0 += KB) {
        const int k1 = k0 + KB < K ? k0 + KB : K;
        for (int k = k0; k < k1; k++) {
          const float aik = A[static_cast<size_t>(i) * K + k];
          const float* brow = B + static_cast<size_t>(k) * N;
          for (int j = 0; j < N; j++) acc[j] += aik * brow[j];
        }
      }
      float* crow = c + static_cast<size_t>(i) * ldc;
      for (int j = 0; j < N; j++) crow[j] = alpha * acc[j] + (beta == 0.0f ? 0.0f : beta * crow[j]);
    }
  }
}

SerialBlas::SerialBlas() : saved(0) {}
SerialBlas::~SerialBlas() {}
#endif

void matmul(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, bool acc, int batch) {
  const size_t sa = static_cast<size_t>(M) * K, sb = static_cast<size_t>(K) * N, sc = static_cast<size_t>(M) * N;
  for (int p = 0; p < batch; p++) {
    if (K == 0) {  // BLAS leaves C untouched for K = 0; define it as the empty sum
      if (!acc) std::memset(c + p * sc, 0, sizeof(float) * sc);
      continue;
    }
#ifdef SSO_HAVE_CBLAS
    // A single row (the decode step of batch-1 generation) is a matrix-vector product: BLAS's GEMV is several
    // times faster than its GEMM there (1×8192×384: 1.1 → 0.3 ms).
    if (M == 1 && !ta) {
      cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, 1.0f, b + p * sb, tb ? K : N,
                  a + p * sa, 1, acc ? 1.0f : 0.0f, c + p * sc, 1);
      continue;
    }
#endif
    gemm_ex(ta, tb, M, N, K, 1.0f, a + p * sa, ta ? M : K, b + p * sb, tb ? K : N, acc ? 1.0f : 0.0f, c + p * sc, N);
  }
}

}  // namespace sso
