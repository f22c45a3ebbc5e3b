// 16-bit float patterns (bf16, fp16) widened exactly to fp32, one value at a time; the GEMM's vector loads are in
// gemm.cc. Exact: every bf16 and fp16 value (subnormals, ±inf, NaN payloads included) is an fp32 value, so a product
// read through these equals the product with the widened fp32 array, bit for bit. Mirrors src/tensor/dtype.ts.
#pragma once
#include <cstdint>
#include <cstring>

namespace sso {

inline float bf16_to_f32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero and subnormals: mant · 2^-24, exact in fp32
    const float f = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -f : f;
  }
  const uint32_t bits = sign | (exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace sso
