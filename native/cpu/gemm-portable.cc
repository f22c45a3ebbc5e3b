// The built-in GEMM for any CPU: one lane and std::fma, no intrinsics (the fallback gemm.cc chooses when the CPU lacks
// AVX2+FMA+F16C, or on request with SSO_GEMM_ISA=portable). Same bits as the vector builds.
#include "gemm-isa.h"
#define SSO_GEMM_PORTABLE
#define SSO_GEMM_NS portable
#include "gemm-kernel.inc"
