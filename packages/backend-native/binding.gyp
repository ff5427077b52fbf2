{
  "targets": [
    {
      "target_name": "longtail_native",
      "sources": [
        "src/native/addon.cc",
        "src/native/kernels_avx512.cc",
        "src/native/kernels_avx2.cc",
        "src/native/kernels_scalar.cc"
      ],
      "cflags!": ["-O2", "-O0", "-fno-exceptions"],
      "cflags_cc!": ["-O2", "-O0", "-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-pthread", "-fvisibility=hidden"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-pthread", "-fvisibility=hidden"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-std=c++17"]
      }
    }
  ]
}
