// The kernels for the portable baseline: plain C++ with 4-wide generic vectors, which the compiler lowers to the
// architecture's baseline (SSE2 on x86-64); addon.cc calls them through `scalar_table`.
#include "common.h"

namespace longtail {
#define LT_NS scalar
#define LT_VW 4
#define LT_ACC 12
#include "kernels.inl"

const KernelTable scalar_table = LT_TABLE(scalar);
}  // namespace longtail
