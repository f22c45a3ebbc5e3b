// GEMM for the cpu backend. The default is a built-in, batch-invariant GEMM: every output element C[i][j] is one
// sequential chain of fused multiply-adds over k = 0..K-1 in fp32, starting from 0, followed by the same epilogue
// (alpha, beta), whatever M, N, the tile the element falls in, the transposes, the thread count or the ISA path
// (vector lanes, masked edge lanes and the scalar fallback all do the same fma per element). So a row's result is
// bitwise the same alone or in any batch, which is what the exactness promises (batch-independent log-probs,
// byte-identical resume, remote = local) rest on. OpenBLAS, when linked, is an opt-in (SSO_GEMM=blas or setGemm):
// faster, but its kernels pick shape-dependent summation orders, so results can differ in the last bits by shape.
//
// Design (BLIS-like): C is split into one rectangle per thread; each thread runs the serial blocked algorithm on it:
// per NC-column block and KC-deep slice of K, the B slice is packed once into NR-column micro-panels (k-major, zero
// padded; a transposed B through 8 × 8 register transposes; a non-transposed B is read in place when C has few rows),
// then every MC-row block of A is packed into MR-row micro-panels and multiplied; a register-blocked micro-kernel
// keeps an MR × NR tile of accumulators (1 × 4NR or 2 × 2NR for one or two rows of C, so that enough independent
// chains hide the fma latency). Between K slices the running sums are stored (to C itself, or to a scratch of the
// thread's rows when beta ≠ 0) and reloaded, so the chain per element is unchanged by the blocking. Edge tiles use
// masked loads/stores (or a narrower instantiation in M), never a different summation. One or two rows against a
// transposed B (decoding) skip packing altogether.
// Decoding reads frozen weights from panels instead (pack_panels / matmul_panels, kernels.h): 64 rows of W per panel,
// k-major, so one row of C streams the weight once, with the same per-element chain and epilogue.
// B may also hold 16-bit patterns (bf16 / fp16 frozen weights, matmul16): they are widened exactly while B is packed
// (or, on the decode path, while its rows are transposed in registers), so the micro-kernels and every fma chain are
// the fp32 ones and a product with a 16-bit B has the bits of the product with its widened fp32 twin.
//
// The kernels (gemm-kernel.inc) are compiled once per instruction set — AVX-512, AVX2+FMA+F16C, portable scalar —
// whatever the build's -march, and this file picks one when first used: the best the CPU has (__builtin_cpu_supports),
// or SSO_GEMM_ISA=portable|avx2|avx512 (a request the CPU cannot run falls back to the best it can; gemmName says
// which). AVX-512 only on request: it compiles but no machine with AVX-512 has run the bitwise tests on it yet.
// Checked: every element bitwise equal to a naive std::fma loop over k (AVX2 and portable, fp32 and 16-bit B:
// test/backends/gemm-fma-chain.cc); test/backends/gemm-invariance.test.ts tests the properties that matter: rows
// alone = in any batch, agreement with `ref`, same bytes at 1-3 threads and on every instruction set.

#include <atomic>
#include <string>

#include "gemm-isa.h"
#include "kernels.h"

#ifdef SSO_HAVE_CBLAS
#include <cblas.h>
#endif

namespace sso {
namespace portable {
extern const GemmKernels kernels;
}
#ifdef SSO_GEMM_WITH_AVX2
namespace avx2 {
extern const GemmKernels kernels;
}
#endif
#ifdef SSO_GEMM_WITH_AVX512
namespace avx512 {
extern const GemmKernels kernels;
}
#endif

namespace {

const GemmKernels* choose_kernels() {
  const char* env = std::getenv("SSO_GEMM_ISA");
  const std::string want = env ? env : "";
  const GemmKernels* best = &portable::kernels;
  if (want == "portable") return best;
#if defined(SSO_GEMM_WITH_AVX2) || defined(SSO_GEMM_WITH_AVX512)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
#ifdef SSO_GEMM_WITH_AVX2
  if (avx2) best = &avx2::kernels;
#endif
#ifdef SSO_GEMM_WITH_AVX512
  if (want == "avx512" && avx2 && __builtin_cpu_supports("avx512f")) best = &avx512::kernels;
#endif
  return best;
}

// Chosen once, on first use (a function-local static: no dependence on the order of static initialisation).
const GemmKernels& kern() {
  static const GemmKernels* k = choose_kernels();
  return *k;
}

std::atomic<int> g_mode{0};  // 0: built-in, 1: BLAS

}  // namespace

const char* gemm_isa() { return kern().name; }

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
  kern().f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
  const GemmFn<uint16_t> gemm = bf16 ? kern().bf16 : kern().f16;
  for (int p = 0; p < batch; p++) {
    if (K == 0) {
      if (!acc) std::memset(c + p * sc, 0, sizeof(float) * sc);
      continue;
    }
    gemm(ta, tb, M, N, K, 1.0f, a + p * sa, ta ? M : K, b + p * sb, tb ? K : N, acc ? 1.0f : 0.0f, c + p * sc, N);
  }
}

namespace {
template <typename T>
void pack_panels_t(T* dst, const T* w, int N, int K) {
  constexpr int PW = kPanelWidth;
  const int np = (N + PW - 1) / PW;
#pragma omp parallel for schedule(static) if (static_cast<double>(N) * K >= kGemvParallel)
  for (int p = 0; p < np; p++) {
    T* d = dst + static_cast<size_t>(p) * K * PW;
    for (int c = 0; c < PW; c++) {
      const int j = p * PW + c;
      if (j < N)
        for (int k = 0; k < K; k++) d[static_cast<size_t>(k) * PW + c] = w[static_cast<size_t>(j) * K + k];
      else
        for (int k = 0; k < K; k++) d[static_cast<size_t>(k) * PW + c] = 0;
    }
  }
}
}  // namespace

void pack_panels(float* dst, const float* w, int N, int K) { pack_panels_t(dst, w, N, K); }
void pack_panels16(uint16_t* dst, const uint16_t* w, int N, int K) { pack_panels_t(dst, w, N, K); }

namespace {
// The empty cases (the empty sum for K = 0), then the chosen instruction set's kernel.
template <typename T>
void run_panels(PanelsFn<T> f, float* c, const float* a, const T* p, int M, int N, int K, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K == 0) {
    if (!accumulate) std::memset(c, 0, sizeof(float) * M * N);
    return;
  }
  f(M, N, K, a, p, accumulate, c);
}
}  // namespace

void matmul_panels(float* c, const float* a, const float* p, int M, int N, int K, bool accumulate) {
  run_panels(kern().panels_f32, c, a, p, M, N, K, accumulate);
}

void matmul_panels16(float* c, const float* a, const uint16_t* p, int M, int N, int K, bool accumulate, bool bf16) {
  run_panels(bf16 ? kern().panels_bf16 : kern().panels_f16, c, a, p, M, N, K, accumulate);
}

}  // namespace sso
