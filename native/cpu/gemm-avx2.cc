// The built-in GEMM compiled for AVX2+FMA+F16C whatever the build's -march: gemm.cc calls it only on CPUs that have
// them. GCC's target pragma; with clang this file is built only when the baseline has them already.
#include "gemm-isa.h"
#ifdef SSO_GEMM_WITH_AVX2
#ifndef __clang__
#pragma GCC target("avx2,fma,f16c")
#endif
#define SSO_GEMM_NS avx2
#include "gemm-kernel.inc"
#endif
