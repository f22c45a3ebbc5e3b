// GEMM for the cpu backend: CBLAS (OpenBLAS) when the build found it, otherwise a simple cache-friendly built-in
// loop (correct, multi-threaded, but several times slower). Not a tuned GEMM: that is BLAS's job.
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

static void gemm1(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, bool acc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a,
              ta ? M : K, b, tb ? K : N, acc ? 1.0f : 0.0f, c, N);
}
#else
bool has_blas() { return false; }
const char* blas_name() { return "built-in GEMM (no BLAS found at build time)"; }

// Packs op(X) of logical shape (R, Cc) into row-major storage; returns x itself when no transpose is needed.
static const float* pack(std::vector<float>& buf, const float* x, int R, int Cc, bool trans) {
  if (!trans) return x;
  buf.resize(static_cast<size_t>(R) * Cc);
  for (int r = 0; r < R; r++)
    for (int q = 0; q < Cc; q++) buf[static_cast<size_t>(r) * Cc + q] = x[static_cast<size_t>(q) * R + r];
  return buf.data();
}

static void gemm1(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, bool acc) {
  std::vector<float> abuf, bbuf;
  const float* A = pack(abuf, a, M, K, ta);  // (M,K)
  const float* B = pack(bbuf, b, K, N, tb);  // (K,N)
  const int KB = 256;
#pragma omp parallel for schedule(static) if (static_cast<long>(M) * N * K > (1L << 16))
  for (int i = 0; i < M; i++) {
    float* crow = c + static_cast<size_t>(i) * N;
    if (!acc) std::memset(crow, 0, sizeof(float) * N);
    for (int k0 = 0; k0 < K; k0 += KB) {
      const int k1 = k0 + KB < K ? k0 + KB : K;
      for (int k = k0; k < k1; k++) {
        const float aik = A[static_cast<size_t>(i) * K + k];
        const float* brow = B + static_cast<size_t>(k) * N;
        for (int j = 0; j < N; j++) crow[j] += aik * brow[j];
      }
    }
  }
}
#endif

void matmul(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, bool acc, int batch) {
  const size_t sa = static_cast<size_t>(M) * K, sb = static_cast<size_t>(K) * N, sc = static_cast<size_t>(M) * N;
  for (int p = 0; p < batch; p++) {
    if (K == 0) {  // BLAS leaves C untouched for K = 0; define it as the empty sum
      if (!acc) std::memset(c + p * sc, 0, sizeof(float) * sc);
      continue;
    }
    gemm1(c + p * sc, a + p * sa, b + p * sb, M, N, K, ta, tb, acc);
  }
}

}  // namespace sso
