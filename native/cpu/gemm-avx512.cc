// The built-in GEMM's AVX-512 micro-kernel, compiled whatever the build's -march; gemm.cc calls it only on CPUs with
// AVX-512F and, until a machine with AVX-512 has run the bitwise tests on it, only when SSO_GEMM_ISA=avx512 asks.
#include "gemm-isa.h"
#ifdef SSO_GEMM_WITH_AVX512
#ifndef __clang__
#pragma GCC target("avx512f,avx2,fma,f16c")
#endif
#define SSO_GEMM_AVX512
#define SSO_GEMM_NS avx512
#include "gemm-kernel.inc"
#endif
