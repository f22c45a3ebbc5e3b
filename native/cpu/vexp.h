// exp for float32 arrays that the compiler can vectorise (glibc's expf only vectorises under -ffast-math, which
// we do not use because it breaks NaN checks). Cody–Waite range reduction and the Cephes degree-5 polynomial:
// relative error below 2e-7 over the clamped range [-87.3, 88]: below it returns ~1e-38 rather than 0, above it exp(88) ≈ 1.65e38
// rather than inf (callers subtract a row maximum first, so arguments are ≤ 0).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sso {

static inline float vexp(float x) {
  x = x < -87.3365447f ? -87.3365447f : (x > 88.0f ? 88.0f : x);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

}  // namespace sso
