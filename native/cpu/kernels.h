// Native CPU kernels of the `cpu` backend. Same names, argument order and semantics as src/backends/backend.ts
// (outputs first, then inputs, then shapes; backward kernels add into their gradient outputs; null = not needed).
// This header is the whole surface the N-API glue in addon.cc sees; it knows nothing about JavaScript.
#pragma once
#include <cstdint>

namespace sso {

// C (M,N) = op(A)·op(B) [+ C], `batch` contiguous products, through gemm_ex.
void matmul(float* c, const float* a, const float* b, int M, int N, int K, bool transA, bool transB, bool accumulate,
            int batch);
// matmul with B of 16-bit patterns (bf16 when `bf16`, else fp16), widened exactly as the built-in GEMM packs it:
// the bits of matmul with the widened fp32 B. Always the built-in GEMM (BLAS has no such product).
void matmul16(float* c, const float* a, const uint16_t* b, int M, int N, int K, bool transA, bool transB,
              bool accumulate, int batch, bool bf16);
// C = alpha·op(A)·op(B) + beta·C with leading dimensions (row-major), for strided views such as one head's rows.
// By default the built-in batch-invariant GEMM (gemm.cc): each C[i][j] is the sequential fp32 fma chain over k from 0,
// then the epilogue, bitwise independent of M, N, tiling, threads and ISA. With set_gemm_blas(true), CBLAS sgemm.
// Inside an OpenMP parallel region the built-in GEMM runs serially on the calling thread.
void gemm_ex(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
             float beta, float* C, int ldc);
// While alive, BLAS runs single-threaded: for callers that parallelise over many small GEMMs themselves.
struct SerialBlas {
  SerialBlas();
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;
  int saved;
};
bool has_blas();         // built with (linked against) OpenBLAS
const char* blas_name();  // that library, or a note that there is none
// Selects the GEMM behind matmul / gemm_ex: false = built-in (default), true = BLAS (false returned: not available).
bool set_gemm_blas(bool blas);
bool gemm_uses_blas();
const char* gemm_isa();  // the built-in GEMM's micro-kernel: "AVX-512", "AVX2+FMA" or "portable scalar"

// Panels: a frozen (N, K) weight (torch Linear layout) repacked for products with few rows of A (decoding): panel p
// holds rows p·kPanelWidth.. of W as K steps of kPanelWidth contiguous values, k-major, zero padded at the end —
// P[(p·K + k)·kPanelWidth + c] = W[p·kPanelWidth + c][k] — so one row of C reads the weight as one stream.
constexpr int kPanelWidth = 64;
inline int64_t panels_size(int64_t N, int64_t K) { return (N + kPanelWidth - 1) / kPanelWidth * kPanelWidth * K; }
void pack_panels(float* dst, const float* w, int N, int K);
void pack_panels16(uint16_t* dst, const uint16_t* w, int N, int K);
// C (M,N) [+ C] = A (M,K) · Wᵀ from W's panels: bitwise the built-in GEMM's matmul(…, transB) on W itself (16-bit:
// matmul16), whatever M. Always the built-in GEMM's arithmetic (SSO_GEMM=blas does not apply).
void matmul_panels(float* c, const float* a, const float* p, int M, int N, int K, bool accumulate);
void matmul_panels16(float* c, const float* a, const uint16_t* p, int M, int N, int K, bool accumulate, bool bf16);

void embedding_forward(float* out, const float* table, const int32_t* ids, int T, int C);
// out = table[ids] from a 16-bit table (bf16 when `bf16`, else fp16), each row widened exactly as it is gathered.
void embedding_forward16(float* out, const uint16_t* table, const int32_t* ids, int T, int C, bool bf16);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int T, int C);

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C, float eps);
void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, const float* rstd, int N,
                      int C);

// sign = +1 forward rotation, -1 inverse; accumulate adds into out instead of overwriting (out must not alias x then).
void rope(float* out, const float* x, const int32_t* pos, const float* inv_freq, int T, int H, int HS, int sign,
          bool accumulate);

struct AttnShape {
  const int32_t* cu_seqlens;
  int S;  // number of sequences; cu_seqlens has S+1 entries
  int NH, NKV, HS;
  float scale;
  // (S) or nullptr: prefix_of[s] = p (p < s, prefix_of[p] = -1) makes s's tokens attend to all of p's rows before
  // their own; backward adds every continuation's dK/dV into p's rows. -1 = none.
  const int32_t* prefix_of = nullptr;
};
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v, const AttnShape& s);
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const AttnShape& s);
void attention_decode(float* out, const float* q, const float* kc, const float* vc, const int32_t* lens, int S, int L,
                      int NH, int NKV, int HS, float scale);

void swiglu_forward(float* out, const float* gate, const float* up, int64_t N);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t N);
void add(float* out, const float* a, const float* b, int64_t N);
void add_backward(float* da, float* db, const float* dout, int64_t N);
void bias_add(float* out, const float* x, const float* bias, int N, int C);
void bias_add_backward(float* dx, float* dbias, const float* dout, int N, int C);

void token_logprobs_forward(float* logp, float* lse, const float* logits, const int32_t* targets, int N, int V);
void token_logprobs_backward(float* dlogits, const float* dlogp, const float* logits, const int32_t* targets,
                             const float* lse, int N, int V);

void adamw(float* p, const float* g, float* m, float* v, int64_t N, float lr, float beta1, float beta2, float eps,
           float wd, int step);
double sum_squares(const float* x, int64_t N);
void scale(float* x, float s, int64_t N);

}  // namespace sso
