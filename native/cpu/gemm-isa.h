// The built-in GEMM as one table per instruction set (gemm-kernel.inc compiled by gemm-avx512.cc, gemm-avx2.cc and
// gemm-portable.cc); gemm.cc chooses one at run time from what the CPU has. Internal to the GEMM: kernels.h is the
// surface the rest of the addon sees. The standard and intrinsics headers the kernels use are included here, before
// any per-file target pragma, so that no inline function of them is compiled for a wider instruction set.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "half.h"
#include "kernels.h"

// Which instruction-set builds exist: x86 only; with GCC always (target pragmas), with clang when the baseline has them.
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__clang__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#define SSO_GEMM_WITH_AVX2 1
#endif
#if !defined(__clang__) || (defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#define SSO_GEMM_WITH_AVX512 1
#endif
#endif

namespace sso {

// C = alpha·op(A)·op(B) + beta·C (row-major, leading dimensions), B of fp32, bf16 or fp16 values.
template <typename T>
using GemmFn = void (*)(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, long lda, const T* B,
                        long ldb, float beta, float* C, long ldc);

// C (M,N) [+ C] = A (M,K) · Wᵀ, W packed into panels (kernels.h: pack_panels).
template <typename T>
using PanelsFn = void (*)(int M, int N, int K, const float* A, const T* P, bool acc, float* C);

// One or two rows of C split over threads when B has at least this many elements (decoding streams B from memory,
// and each core adds bandwidth: 10M model, 1×384×384 at one thread 70 µs, two 27 µs).
constexpr double kGemvParallel = 1 << 16;

struct GemmKernels {
  const char* name;  // "AVX-512", "AVX2+FMA" or "portable scalar"
  GemmFn<float> f32;
  GemmFn<uint16_t> bf16;
  GemmFn<uint16_t> f16;
  PanelsFn<float> panels_f32;
  PanelsFn<uint16_t> panels_bf16;
  PanelsFn<uint16_t> panels_f16;
};

}  // namespace sso
