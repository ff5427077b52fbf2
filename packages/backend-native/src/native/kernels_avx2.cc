// The kernels for AVX2 + FMA; addon.cc calls them through `avx2_table`.
#include "common.h"

#if defined(__x86_64__) || defined(__i386__)
namespace longtail {
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define LT_NS avx2
#define LT_VW 8
#define LT_ACC 12
#include "kernels.inl"
#pragma GCC pop_options

const KernelTable avx2_table = LT_TABLE(avx2);
}  // namespace longtail
#endif
