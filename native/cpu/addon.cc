// N-API glue of the `cpu` backend: unpacks typed arrays zero-copy, checks every buffer is large enough and every
// index in range (a wrong size from JavaScript must be an exception, never a write out of bounds), then calls the
// kernel. No computation happens here. The TypeScript twin of this surface is src/backends/cpu/addon.ts.
#include <napi.h>

#include <cstdlib>
#include <string>

#include "kernels.h"

namespace {

using Napi::CallbackInfo;

[[noreturn]] void fail(const CallbackInfo& info, const std::string& msg) {
  throw Napi::TypeError::New(info.Env(), msg);
}

int64_t Int(const CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) fail(info, "argument " + std::to_string(i) + ": expected a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d)))
    fail(info, "argument " + std::to_string(i) + ": expected a non-negative integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

double Num(const CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) fail(info, "argument " + std::to_string(i) + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

bool Bool(const CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

template <typename T, napi_typedarray_type kType>
T* Arr(const CallbackInfo& info, size_t i, int64_t need, bool optional, const char* type_name) {
  if (optional && (info[i].IsNull() || info[i].IsUndefined())) return nullptr;
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != kType)
    fail(info, "argument " + std::to_string(i) + ": expected a " + type_name);
  auto a = info[i].As<Napi::TypedArrayOf<T>>();
  if (static_cast<int64_t>(a.ElementLength()) < need)
    fail(info, "argument " + std::to_string(i) + ": " + type_name + " has " + std::to_string(a.ElementLength()) +
                   " elements, the kernel needs " + std::to_string(need));
  return a.Data();
}

float* F32(const CallbackInfo& info, size_t i, int64_t need, bool optional = false) {
  return Arr<float, napi_float32_array>(info, i, need, optional, "Float32Array");
}
int32_t* I32(const CallbackInfo& info, size_t i, int64_t need) {
  return Arr<int32_t, napi_int32_array>(info, i, need, false, "Int32Array");
}
uint16_t* U16(const CallbackInfo& info, size_t i, int64_t need) {
  return Arr<uint16_t, napi_uint16_array>(info, i, need, false, "Uint16Array");
}

void CheckIds(const CallbackInfo& info, const int32_t* ids, int64_t n, int64_t limit, const char* what) {
  for (int64_t t = 0; t < n; t++)
    if (ids[t] < 0 || ids[t] >= limit)
      fail(info, std::string(what) + "[" + std::to_string(t) + "] = " + std::to_string(ids[t]) + " is outside [0, " +
                     std::to_string(limit) + ")");
}

// matmul(c, a, b, M, N, K, transA, transB, accumulate, batch)
void Matmul(const CallbackInfo& info) {
  const int64_t M = Int(info, 3), N = Int(info, 4), K = Int(info, 5), B = Int(info, 9);
  float* c = F32(info, 0, B * M * N);
  const float* a = F32(info, 1, B * M * K);
  const float* b = F32(info, 2, B * K * N);
  sso::matmul(c, a, b, M, N, K, Bool(info, 6), Bool(info, 7), Bool(info, 8), B);
}

// matmul16(c, a, b16, M, N, K, transA, transB, accumulate, batch, bf16): B holds bf16 or fp16 bit patterns
void Matmul16(const CallbackInfo& info) {
  const int64_t M = Int(info, 3), N = Int(info, 4), K = Int(info, 5), B = Int(info, 9);
  float* c = F32(info, 0, B * M * N);
  const float* a = F32(info, 1, B * M * K);
  const uint16_t* b = U16(info, 2, B * K * N);
  sso::matmul16(c, a, b, M, N, K, Bool(info, 6), Bool(info, 7), Bool(info, 8), B, Bool(info, 10));
}

// packPanels(dst, w, N, K): dst and w both Float32Array or both Uint16Array (16-bit patterns are copied as they are)
void PackPanels(const CallbackInfo& info) {
  const int64_t N = Int(info, 2), K = Int(info, 3);
  if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array)
    sso::pack_panels16(U16(info, 0, sso::panels_size(N, K)), U16(info, 1, N * K), N, K);
  else
    sso::pack_panels(F32(info, 0, sso::panels_size(N, K)), F32(info, 1, N * K), N, K);
}

// matmulPanels(c, a, panels, M, N, K, accumulate, kind): kind 0 = fp32 panels, 1 = bf16, 2 = fp16
void MatmulPanels(const CallbackInfo& info) {
  const int64_t M = Int(info, 3), N = Int(info, 4), K = Int(info, 5), kind = Int(info, 7);
  float* c = F32(info, 0, M * N);
  const float* a = F32(info, 1, M * K);
  if (kind == 0)
    sso::matmul_panels(c, a, F32(info, 2, sso::panels_size(N, K)), M, N, K, Bool(info, 6));
  else
    sso::matmul_panels16(c, a, U16(info, 2, sso::panels_size(N, K)), M, N, K, Bool(info, 6), kind == 1);
}

// embeddingForward16(out, table16, ids, T, C, bf16)
void Embedding16(const CallbackInfo& info) {
  const int64_t T = Int(info, 3), C = Int(info, 4);
  if (C == 0) return;
  float* out = F32(info, 0, T * C);
  const uint16_t* table = U16(info, 1, 0);
  const int32_t* ids = I32(info, 2, T);
  CheckIds(info, ids, T, info[1].As<Napi::Uint16Array>().ElementLength() / C, "ids");
  sso::embedding_forward16(out, table, ids, T, C, Bool(info, 5));
}

// embeddingForward(out, table, ids, T, C) / embeddingBackward(dTable, dOut, ids, T, C)
void Embedding(const CallbackInfo& info, bool backward) {
  const int64_t T = Int(info, 3), C = Int(info, 4);
  if (C == 0) return;
  float* first = F32(info, 0, backward ? 0 : T * C);
  const float* second = F32(info, 1, backward ? T * C : 0);
  const int32_t* ids = I32(info, 2, T);
  const int64_t V = (backward ? info[0] : info[1]).As<Napi::Float32Array>().ElementLength() / C;
  CheckIds(info, ids, T, V, "ids");
  if (backward) sso::embedding_backward(first, second, ids, T, C);
  else sso::embedding_forward(first, second, ids, T, C);
}

// rmsnormForward(out, rstd, x, weight, N, C, eps)
void RmsnormForward(const CallbackInfo& info) {
  const int64_t N = Int(info, 4), C = Int(info, 5);
  sso::rmsnorm_forward(F32(info, 0, N * C), F32(info, 1, N), F32(info, 2, N * C), F32(info, 3, C), N, C, Num(info, 6));
}

// rmsnormBackward(dx, dWeight|null, dOut, x, weight, rstd, N, C)
void RmsnormBackward(const CallbackInfo& info) {
  const int64_t N = Int(info, 6), C = Int(info, 7);
  sso::rmsnorm_backward(F32(info, 0, N * C), F32(info, 1, C, true), F32(info, 2, N * C), F32(info, 3, N * C),
                        F32(info, 4, C), F32(info, 5, N), N, C);
}

// rope(out, x, positions, invFreq, T, H, HS, sign, accumulate)
void Rope(const CallbackInfo& info) {
  const int64_t T = Int(info, 4), H = Int(info, 5), HS = Int(info, 6);
  if (HS % 2) fail(info, "rope: head size must be even, got " + std::to_string(HS));
  sso::rope(F32(info, 0, T * H * HS), F32(info, 1, T * H * HS), I32(info, 2, T), F32(info, 3, HS / 2), T, H, HS,
            Num(info, 7) < 0 ? -1 : 1, Bool(info, 8));
}

// Attention shape arguments start at index `at`: cuSeqlens, NH, NKV, HS, scale, prefixOf (optional). Returns the
// shape and T.
sso::AttnShape Shape(const CallbackInfo& info, size_t at, int64_t* T) {
  if (!info[at].IsTypedArray()) fail(info, "cuSeqlens: expected an Int32Array");
  const int64_t n = info[at].As<Napi::TypedArray>().ElementLength();
  if (n < 1) fail(info, "cuSeqlens: needs at least one entry");
  const int32_t* cu = I32(info, at, n);
  if (cu[0] != 0) fail(info, "cuSeqlens[0] must be 0");
  for (int64_t s = 1; s < n; s++)
    if (cu[s] < cu[s - 1]) fail(info, "cuSeqlens must be non-decreasing (at " + std::to_string(s) + ")");
  sso::AttnShape sh{cu, static_cast<int>(n - 1), static_cast<int>(Int(info, at + 1)), static_cast<int>(Int(info, at + 2)),
                    static_cast<int>(Int(info, at + 3)), static_cast<float>(Num(info, at + 4))};
  if (sh.NKV == 0 || sh.NH % sh.NKV) fail(info, "attention: NKV must divide NH");
  if (!info[at + 5].IsNull() && !info[at + 5].IsUndefined()) {
    const int32_t* pre = I32(info, at + 5, n - 1);
    for (int64_t s = 0; s + 1 < n; s++)
      if (pre[s] != -1 && (pre[s] < 0 || pre[s] >= s || pre[pre[s]] != -1))
        fail(info, "prefixOf[" + std::to_string(s) + "] = " + std::to_string(pre[s]) +
                       " must be -1 or an earlier sequence without a prefix");
    sh.prefix_of = pre;
  }
  *T = cu[n - 1];
  return sh;
}

// attentionForward(out, lse, q, k, v, cuSeqlens, NH, NKV, HS, scale, prefixOf?)
void AttentionForward(const CallbackInfo& info) {
  int64_t T;
  const sso::AttnShape s = Shape(info, 5, &T);
  sso::attention_forward(F32(info, 0, T * s.NH * s.HS), F32(info, 1, T * s.NH), F32(info, 2, T * s.NH * s.HS),
                         F32(info, 3, T * s.NKV * s.HS), F32(info, 4, T * s.NKV * s.HS), s);
}

// attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, cuSeqlens, NH, NKV, HS, scale, prefixOf?)
void AttentionBackward(const CallbackInfo& info) {
  int64_t T;
  const sso::AttnShape s = Shape(info, 9, &T);
  const int64_t nq = T * s.NH * s.HS, nkv = T * s.NKV * s.HS;
  sso::attention_backward(F32(info, 0, nq), F32(info, 1, nkv), F32(info, 2, nkv), F32(info, 3, nq), F32(info, 4, nq),
                          F32(info, 5, nkv), F32(info, 6, nkv), F32(info, 7, nq), F32(info, 8, T * s.NH), s);
}

// attentionDecode(out, q, kCache, vCache, cacheLens, S, L, NH, NKV, HS, scale)
void AttentionDecode(const CallbackInfo& info) {
  const int64_t S = Int(info, 5), L = Int(info, 6), NH = Int(info, 7), NKV = Int(info, 8), HS = Int(info, 9);
  if (NKV == 0 || NH % NKV) fail(info, "attentionDecode: NKV must divide NH");
  const int32_t* lens = I32(info, 4, S);
  for (int64_t s = 0; s < S; s++)
    if (lens[s] < 1 || lens[s] > L)
      fail(info, "cacheLens[" + std::to_string(s) + "] = " + std::to_string(lens[s]) + " is outside [1, " +
                     std::to_string(L) + "]");
  const int64_t ncache = S * L * NKV * HS;
  sso::attention_decode(F32(info, 0, S * NH * HS), F32(info, 1, S * NH * HS), F32(info, 2, ncache),
                        F32(info, 3, ncache), lens, S, L, NH, NKV, HS, Num(info, 10));
}

void SwigluForward(const CallbackInfo& info) {
  const int64_t N = Int(info, 3);
  sso::swiglu_forward(F32(info, 0, N), F32(info, 1, N), F32(info, 2, N), N);
}
void SwigluBackward(const CallbackInfo& info) {
  const int64_t N = Int(info, 5);
  sso::swiglu_backward(F32(info, 0, N), F32(info, 1, N), F32(info, 2, N), F32(info, 3, N), F32(info, 4, N), N);
}
void Add(const CallbackInfo& info) {
  const int64_t N = Int(info, 3);
  sso::add(F32(info, 0, N), F32(info, 1, N), F32(info, 2, N), N);
}
void AddBackward(const CallbackInfo& info) {
  const int64_t N = Int(info, 3);
  sso::add_backward(F32(info, 0, N, true), F32(info, 1, N, true), F32(info, 2, N), N);
}
void BiasAdd(const CallbackInfo& info) {
  const int64_t N = Int(info, 3), C = Int(info, 4);
  sso::bias_add(F32(info, 0, N * C), F32(info, 1, N * C), F32(info, 2, C), N, C);
}
void BiasAddBackward(const CallbackInfo& info) {
  const int64_t N = Int(info, 3), C = Int(info, 4);
  sso::bias_add_backward(F32(info, 0, N * C, true), F32(info, 1, C), F32(info, 2, N * C), N, C);
}

// tokenLogprobsForward(logp, lse, logits, targets, N, V)
void TokenLogprobsForward(const CallbackInfo& info) {
  const int64_t N = Int(info, 4), V = Int(info, 5);
  const int32_t* targets = I32(info, 3, N);
  CheckIds(info, targets, N, V, "targets");
  sso::token_logprobs_forward(F32(info, 0, N), F32(info, 1, N), F32(info, 2, N * V), targets, N, V);
}
// tokenLogprobsBackward(dLogits, dLogp, logits, targets, lse, N, V)
void TokenLogprobsBackward(const CallbackInfo& info) {
  const int64_t N = Int(info, 5), V = Int(info, 6);
  const int32_t* targets = I32(info, 3, N);
  CheckIds(info, targets, N, V, "targets");
  sso::token_logprobs_backward(F32(info, 0, N * V), F32(info, 1, N), F32(info, 2, N * V), targets, F32(info, 4, N), N, V);
}

// adamw(param, grad, m, v, N, lr, beta1, beta2, eps, weightDecay, step)
void Adamw(const CallbackInfo& info) {
  const int64_t N = Int(info, 4), step = Int(info, 10);
  if (step < 1) fail(info, "adamw: step must be >= 1");
  sso::adamw(F32(info, 0, N), F32(info, 1, N), F32(info, 2, N), F32(info, 3, N), N, Num(info, 5), Num(info, 6),
             Num(info, 7), Num(info, 8), Num(info, 9), static_cast<int>(step));
}
Napi::Value SumSquares(const CallbackInfo& info) {
  const int64_t N = Int(info, 1);
  return Napi::Number::New(info.Env(), sso::sum_squares(F32(info, 0, N), N));
}
void Scale(const CallbackInfo& info) {
  const int64_t N = Int(info, 2);
  sso::scale(F32(info, 0, N), Num(info, 1), N);
}

// "builtin" (the batch-invariant GEMM, default) or "blas" (OpenBLAS sgemm/sgemv: faster where it is, but its bits
// depend on the shapes, so the exactness promises do not hold under it).
void SetGemm(const CallbackInfo& info) {
  if (!info[0].IsString()) fail(info, "setGemm: expected \"builtin\" or \"blas\"");
  const std::string v = info[0].As<Napi::String>().Utf8Value();
  if (v != "builtin" && v != "blas") fail(info, "setGemm: expected \"builtin\" or \"blas\", got \"" + v + "\"");
  if (!sso::set_gemm_blas(v == "blas"))
    throw Napi::Error::New(info.Env(), std::string("setGemm(\"blas\"): this build has ") + sso::blas_name());
}

Napi::Value GetGemm(const CallbackInfo& info) {
  return Napi::String::New(info.Env(), sso::gemm_uses_blas() ? "blas" : "builtin");
}

Napi::Value GetGemmName(const CallbackInfo& info) {
  const std::string name = sso::gemm_uses_blas()
                               ? std::string(sso::blas_name()) + " sgemm (not batch-invariant)"
                               : std::string("built-in batch-invariant GEMM (") + sso::gemm_isa() + ")";
  return Napi::String::New(info.Env(), name);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // SSO_GEMM=blas opts into BLAS at load; anything else (or BLAS missing) keeps the built-in GEMM, which the
  // TypeScript loader reports.
  if (const char* g = std::getenv("SSO_GEMM"); g && (std::string(g) == "blas" || std::string(g) == "openblas"))
    sso::set_gemm_blas(true);
  auto fn = [&](const char* name, auto f) { exports.Set(name, Napi::Function::New(env, f, name)); };
  fn("matmul", Matmul);
  fn("matmul16", Matmul16);
  fn("packPanels", PackPanels);
  fn("matmulPanels", MatmulPanels);
  fn("embeddingForward", [](const CallbackInfo& i) { Embedding(i, false); });
  fn("embeddingForward16", Embedding16);
  fn("embeddingBackward", [](const CallbackInfo& i) { Embedding(i, true); });
  fn("rmsnormForward", RmsnormForward);
  fn("rmsnormBackward", RmsnormBackward);
  fn("rope", Rope);
  fn("attentionForward", AttentionForward);
  fn("attentionBackward", AttentionBackward);
  fn("attentionDecode", AttentionDecode);
  fn("swigluForward", SwigluForward);
  fn("swigluBackward", SwigluBackward);
  fn("add", Add);
  fn("addBackward", AddBackward);
  fn("biasAdd", BiasAdd);
  fn("biasAddBackward", BiasAddBackward);
  fn("tokenLogprobsForward", TokenLogprobsForward);
  fn("tokenLogprobsBackward", TokenLogprobsBackward);
  fn("adamw", Adamw);
  fn("sumSquares", SumSquares);
  fn("scale", Scale);
  fn("setGemm", SetGemm);
  exports.DefineProperty(Napi::PropertyDescriptor::Accessor<GetGemm>("gemm", napi_enumerable));
  exports.DefineProperty(Napi::PropertyDescriptor::Accessor<GetGemmName>("gemmName", napi_enumerable));
  exports.Set("hasBlas", Napi::Boolean::New(env, sso::has_blas()));
  exports.Set("blasName", Napi::String::New(env, sso::blas_name()));
#ifdef _OPENMP
  exports.Set("openmp", Napi::Boolean::New(env, true));
#else
  exports.Set("openmp", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(sso_cpu, Init)
