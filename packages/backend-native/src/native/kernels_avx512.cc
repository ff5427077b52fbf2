// The kernels for AVX-512 (with AVX2, FMA, BMI2); addon.cc calls them through `avx512_table`.
#include "common.h"

#if defined(__x86_64__) || defined(__i386__)
namespace longtail {
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi2")
#define LT_NS avx512
#define LT_VW 16
#define LT_ACC 24
#include "kernels.inl"
#pragma GCC pop_options

const KernelTable avx512_table = LT_TABLE(avx512);
}  // namespace longtail
#endif
