{
  "variables": {
    "sso_blas%": "<!(node native/cpu/detect-blas.cjs)",
    "sso_march%": "native"
  },
  "targets": [
    {
      "target_name": "sso_cpu",
      "sources": [
        "native/cpu/addon.cc",
        "native/cpu/kernels.cc",
        "native/cpu/gemm.cc",
        "native/cpu/gemm-portable.cc",
        "native/cpu/gemm-avx2.cc",
        "native/cpu/gemm-avx512.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=<(sso_march)", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"],
      "ldflags": ["-fopenmp"],
      "conditions": [
        ["sso_blas=='openblas'", {
          "defines": ["SSO_HAVE_CBLAS"],
          "libraries": ["-lopenblas"]
        }]
      ]
    }
  ]
}
