// Direct (implicit-GEMM) NHWC convolutions, included by kernels.inl inside the per-SIMD-level namespace.
//
// Forward: for one output row, a register tile of MR consecutive output pixels x NV vectors of output
// channels. Its A operand is read straight from a zero-padded copy of the input rows the task needs (the
// "slab", about the size of the task's input, so no 9x im2col copy): pixel i of tap (th, tw) sits at a
// constant offset i * RS (RS = stride * Cin, a template argument, so every broadcast is an immediate
// displacement) and the K loop runs over taps x Cin. B is the filter, copied into NV*VW-wide column chunks.
// Input gradient (stride 1): the same kernel on dy with the filter rotated 180 degrees, Cin/Cout swapped.
// Filter gradient: per tap, dW_tap[ci][co] += x[m][ci] * dy[m][co] accumulated over the task's pixels in an
// MR (ci) x NV (co vectors) register tile, reading the slab and dy in place; partial sums per fixed group of
// work items, added in order (sum_over_work_items in kernels.inl), so the result does not depend on thread timing.
//
// Supported: Cin a multiple of 16 with stride * Cin in {16, 32, 64, 128}, Cout a multiple of VW (the
// forward kernel reads Cin in blocks of 16); and, forward and filter gradient, the "row runs" of RGB stems
// (row_run_supported: 3x3 stride 1 and 7x7 stride 2 over 3 channels). Anything else returns false and the im2col
// path runs.

#if LT_VW == 16
// AVX-512: 32 registers and broadcasts folded into the FMA, so up to 24 accumulators + NV filter vectors.
#define LT_FORWARD_TILES X(16, 1) X(8, 1) X(8, 2) X(12, 2) X(4, 4) X(6, 4)
#define LT_FILTER_TILES X(16, 1) X(8, 2) X(4, 4) X(8, 1)
#else
// 16 registers: at most 12 accumulators + NV filter vectors + one broadcast.
#define LT_FORWARD_TILES X(12, 1) X(8, 1) X(6, 2) X(4, 2) X(4, 3) X(3, 4)
#define LT_FILTER_TILES X(8, 1) X(4, 2) X(4, 3) X(2, 4)
#endif

struct DirectPlan {
  long slab_rows, slab_cols, line;  // slab geometry; line = slab_cols * cin floats
  long rows_per_task, row_blocks;
};

// Zero-padded copy of input rows [ih0, ih0 + rows) and columns [iw0, iw0 + cols) of one image.
static void fill_slab(const ConvShape& s, const float* image, long ih0, long rows, long iw0, long cols, float* slab) {
  const long cin = s.cin, line = cols * cin;
  const long c_begin = std::max<long>(0, -iw0), c_end = std::max<long>(c_begin, std::min<long>(cols, s.w - iw0));
  for (long r = 0; r < rows; r++) {
    float* dst = slab + r * line;
    const long ih = ih0 + r;
    if (ih < 0 || ih >= s.h) {
      std::memset(dst, 0, sizeof(float) * line);
      continue;
    }
    std::memset(dst, 0, sizeof(float) * c_begin * cin);
    std::memcpy(dst + c_begin * cin, image + (ih * s.w + iw0 + c_begin) * cin, sizeof(float) * (c_end - c_begin) * cin);
    std::memset(dst + c_end * cin, 0, sizeof(float) * (cols - c_end) * cin);
  }
}

// ---------------------------------------------------------------------------------------------
// Forward

// `offsets` lists, per 16-channel block of every tap (group), where it starts relative to pixel 0 (an offset
// table rather than nested tap / channel loops: with linear induction GCC's predictive commoning reuses
// broadcasts across iterations when RS equals the block step and spills hundreds of them).
//
// TW > 1 (stride 1, dilation 1 along the row): a block covers TW horizontally adjacent taps. Input pixel p
// then feeds output pixels p - t for t < TW, so each broadcast serves TW FMAs (one per tap) instead of one:
// MR + TW - 1 broadcasts and TW * NV filter vectors per TW * MR * NV FMAs.
template <int MR, int NV, int RS, int TW, int BLOCK>
static inline void direct_tile(const float* __restrict a, const long* __restrict offsets, long blocks,
                               const float* __restrict b, float* __restrict y, long ldy, int rows,
                               const float* bias, bool relu) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) acc[i][j] = vf{};
  auto step = [&](const float* ap, const float* bk) __attribute__((always_inline)) {
    vf bv[TW][NV];
#pragma GCC unroll 4
    for (int t = 0; t < TW; t++)
#pragma GCC unroll 8
      for (int j = 0; j < NV; j++) bv[t][j] = load(bk + t * NV * VW + j * VW);
#pragma GCC unroll 40
    for (int p = 0; p < MR + TW - 1; p++) {
      vf av = splat(ap[p * RS]);
#pragma GCC unroll 4
      for (int t = 0; t < TW; t++) {
        const int i = p - t;
        if (i < 0 || i >= MR) continue;
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++) acc[i][j] += av * bv[t][j];
      }
    }
  };
  for (long block = 0; block < blocks; block++, b += BLOCK * TW * NV * VW) {
    const float* ap = a + offsets[block];
    if constexpr (TW == 1) {
#pragma GCC unroll 21
      for (int kk = 0; kk < BLOCK; kk++) step(ap + kk, b + kk * TW * NV * VW);
    } else {
      // Each channel step already holds TW * MR * NV FMAs: a shorter unroll keeps the code (and build) small.
#pragma GCC unroll 4
      for (int kk = 0; kk < 16; kk++) step(ap + kk, b + kk * TW * NV * VW);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++) {
    if (i >= rows) break;
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
      vf v = acc[i][j];
      if (bias) v += load(bias + j * VW);
      if (relu) v = vmax(v, vf{});
      store(y + i * ldy + j * VW, v);
    }
  }
}

// Where output pixel (n, oh, ow) goes: y + n * image + oh * row + ow * pixel (channels contiguous). The
// stride-2 input gradient writes one phase of dx at a time, so its rows and pixels are strided.
struct OutputLayout {
  long image, row, pixel;
};

// Output rows [oh0, oh0 + rows) of image n (y points at row oh0); the slab holds the input rows they read.
// BLOCK 16: blocks of 16 channels of one tap (or TW taps). Otherwise a "row run" (few input channels, as an RGB stem):
// one block per kernel row th, the kw * cin floats of its taps, contiguous in the slab (dilation 1 along the row).
template <int MR, int NV, int RS, int TW, int BLOCK>
static void direct_forward_rows(const ConvShape& s, const float* slab, long line, const float* packed, const float* bias,
                                bool relu, float* y, const OutputLayout& out, long rows) {
  const long chunk = NV * VW, chunks = s.cout / chunk, chunk_size = (long)s.kh * s.kw * s.cin * chunk;
  const long blocks = BLOCK == 16 ? (long)s.kh * (s.kw / TW) * (s.cin / 16) : s.kh;
  long offsets[1024];  // direct_supported() bounds taps * Cin / 16
  if (BLOCK != 16) {
    for (long th = 0; th < s.kh; th++) offsets[th] = th * s.dh * line;
  } else {
    for (long th = 0, block = 0; th < s.kh; th++)
      for (long tw = 0; tw < s.kw; tw += TW)
        for (long c0 = 0; c0 < s.cin; c0 += 16) offsets[block++] = th * s.dh * line + tw * s.dw * s.cin + c0;
  }
  for (long r = 0; r < rows; r++) {
    const float* a_row = slab + r * s.sh * line;
    float* y_row = y + r * out.row;
    for (long ow0 = 0; ow0 < s.ow; ow0 += MR) {
      const int count = (int)std::min<long>(MR, s.ow - ow0);
      for (long c = 0; c < chunks; c++)
        direct_tile<MR, NV, RS, TW, BLOCK>(a_row + ow0 * RS, offsets, blocks, packed + c * chunk_size,
                                y_row + ow0 * out.pixel + c * chunk, out.pixel, count, bias ? bias + c * chunk : nullptr, relu);
    }
  }
}

typedef void (*DirectForwardRows)(const ConvShape&, const float*, long, const float*, const float*, bool, float*,
                                  const OutputLayout&, long);

// Fused-tap tiles keep TW * NV filter vectors live besides the accumulators: those that made GCC spill in the
// K loop (checked in the disassembly: 12x2 on AVX-512, 12x1 on AVX2) are not instantiated.
constexpr int VECTOR_BUDGET = VW == 16 ? 31 : 16;
template <int MR, int NV, int TW>
constexpr bool tile_fits() {
  return TW == 1 || MR * NV + TW * NV + 2 <= VECTOR_BUDGET;
}

template <int MR, int NV, int TW>
static DirectForwardRows direct_forward_for_stride(long row_stride) {
  if constexpr (!tile_fits<MR, NV, TW>()) {
    return nullptr;
  } else {
    switch (row_stride) {
      case 16: return direct_forward_rows<MR, NV, 16, TW, 16>;
      case 32: return direct_forward_rows<MR, NV, 32, TW, 16>;
      case 64: return direct_forward_rows<MR, NV, 64, TW, 16>;
      case 128: return direct_forward_rows<MR, NV, 128, TW, 16>;
      default: return nullptr;
    }
  }
}

// Row-run kernels (see direct_forward_rows) for RGB stems: 3x3 stride 1 (CIFAR) and 7x7 stride 2 (ImageNet).
template <int MR, int NV>
static DirectForwardRows direct_forward_row_run(long row_stride, long run) {
  if (row_stride == 3 && run == 9) return direct_forward_rows<MR, NV, 3, 1, 9>;
  if (row_stride == 6 && run == 21) return direct_forward_rows<MR, NV, 6, 1, 21>;
  return nullptr;
}

// A row-run forward applies: few input channels (not a multiple of 16), dilation 1 along the row, one of the
// instantiated (stride * cin, kw * cin) pairs.
static bool row_run_supported(const ConvShape& s) {
  if (conv_algorithm.load(std::memory_order_relaxed) != 0) return false;
  if (s.cin % 16 == 0 || s.cout % VW != 0 || s.dw != 1 || s.kh > 1024) return false;
  const long row_stride = (long)s.sw * s.cin, run = (long)s.kw * s.cin;
  return (row_stride == 3 && run == 9) || (row_stride == 6 && run == 21);
}

// Cycles per useful FMA of an MR x NV tile fusing TW taps over `width` pixels: FMAs and loads (broadcasts +
// filter vectors per k) each issue about two per cycle; padded tail pixels are wasted work; among equal
// costs bigger tiles win (fewer tile set-ups and filter reloads).
static double tile_cost(long mr, long nv, long width, long tw = 1) {
  const double fmas = (double)(tw * mr * nv), loads = (double)(mr + tw - 1 + tw * nv);
  return (double)round_up(width, mr) / (double)width * std::max(fmas, loads) / fmas + 0.001 / (double)(mr * nv);
}

// Which direct path applies (and the filter-gradient version's requirements are the same channel rules).
static bool direct_supported(const ConvShape& s) {
  if (conv_algorithm.load(std::memory_order_relaxed) != 0) return false;
  if (s.cin % 16 != 0 || s.cout % VW != 0) return false;
  const long row_stride = (long)s.sw * s.cin;
  if ((long)s.kh * s.kw * (s.cin / 16) > 1024) return false;
  return row_stride == 16 || row_stride == 32 || row_stride == 64 || row_stride == 128;
}

// Everything a forward pass needs besides the input and output pointers.
struct ForwardPlan {
  ConvShape s;
  DirectForwardRows function = nullptr;
  std::vector<float> packed;  // filter in column chunks of NV*VW: chunk c = [K] x NV*VW contiguous floats
  const float* bias = nullptr;
  bool relu = false;
  OutputLayout out{0, 0, 0};
  long slab_cols = 0, line = 0;
};

static bool make_forward_plan(const ConvShape& s, const float* filter, const float* bias, bool relu,
                              const OutputLayout& out, ForwardPlan& plan) {
  const bool row_run = row_run_supported(s);
  if (!row_run && !direct_supported(s)) return false;
  const long row_stride = (long)s.sw * s.cin, vectors = s.cout / VW;
  // Three horizontal taps per block when they are adjacent input pixels (stride and dilation 1).
  const bool fuse = !row_run && s.sw == 1 && s.dw == 1 && s.kw % 3 == 0;
  int best_mr = 0, best_nv = 0;
  double best_cost = 1e300;
  DirectForwardRows function = nullptr;
#define X(MR, NV)                                                                                \
  if (vectors % NV == 0) {                                                                       \
    DirectForwardRows candidate = row_run ? direct_forward_row_run<MR, NV>(row_stride, (long)s.kw * s.cin)          \
                                  : fuse  ? direct_forward_for_stride<MR, NV, 3>(row_stride)                        \
                                          : direct_forward_for_stride<MR, NV, 1>(row_stride);                       \
    double cost = tile_cost(MR, NV, s.ow, fuse ? 3 : 1);                                         \
    if (candidate && cost < best_cost) best_cost = cost, best_mr = MR, best_nv = NV, function = candidate; \
  }
  LT_FORWARD_TILES
#undef X
  if (!function) return false;
  const long K = (long)s.kh * s.kw * s.cin, chunk = (long)best_nv * VW, chunks = s.cout / chunk;
  const long tw_group = fuse ? 3 : 1;
  plan.s = s;
  plan.function = function;
  plan.packed.resize((size_t)K * s.cout);
  // Chunk c holds, in the order the tile reads them, the filter rows (th, tap group, 16-channel block, channel,
  // tap within the group), each NV*VW floats of chunk c's output channels.
  float* dst = plan.packed.data();
  if (row_run) {
    // Row runs read the filter rows in their natural order (th, tw, ci).
    for (long c = 0; c < chunks; c++)
      for (long k = 0; k < K; k++, dst += chunk) std::memcpy(dst, filter + k * s.cout + c * chunk, sizeof(float) * chunk);
  } else for (long c = 0; c < chunks; c++)
    for (long th = 0; th < s.kh; th++)
      for (long g = 0; g < s.kw; g += tw_group)
        for (long c0 = 0; c0 < s.cin; c0 += 16)
          for (long kk = 0; kk < 16; kk++)
            for (long t = 0; t < tw_group; t++, dst += chunk) {
              const long k = (th * s.kw + g + t) * s.cin + c0 + kk;
              std::memcpy(dst, filter + k * s.cout + c * chunk, sizeof(float) * chunk);
            }
  plan.bias = bias;
  plan.relu = relu;
  plan.out = out;
  // The slab also covers the padded tail of the last tile of a row (computed, never stored).
  plan.slab_cols = (round_up(s.ow, best_mr) - 1) * s.sw + (long)(s.kw - 1) * s.dw + 1;
  plan.line = plan.slab_cols * s.cin;
  return true;
}

// Output rows [oh0, oh0 + rows) of image n.
static void run_forward_rows(const ForwardPlan& plan, const float* x, float* y, long n, long oh0, long rows) {
  const ConvShape& s = plan.s;
  const long slab_rows = (rows - 1) * s.sh + (long)(s.kh - 1) * s.dh + 1;
  static thread_local std::vector<float> slab;
  if (slab.size() < (size_t)(slab_rows * plan.line)) slab.resize((size_t)(slab_rows * plan.line));
  fill_slab(s, x + n * (long)s.h * s.w * s.cin, oh0 * s.sh - s.pt, slab_rows, -s.pl, plan.slab_cols, slab.data());
  plan.function(s, slab.data(), plan.line, plan.packed.data(), plan.bias, plan.relu,
                y + n * plan.out.image + oh0 * plan.out.row, plan.out, rows);
}

static bool direct_conv2d(const ConvShape& s, const float* x, const float* filter, const float* bias, bool relu,
                          float* y) {
  ForwardPlan plan;
  const OutputLayout dense{(long)s.oh * s.ow * s.cout, (long)s.ow * s.cout, s.cout};
  if (!make_forward_plan(s, filter, bias, relu, dense, plan)) return false;
  // Work items: (image, block of output rows) of about 512 output pixels.
  const long rows_per_task = std::max<long>(1, std::min<long>(s.oh, (512 + s.ow - 1) / s.ow));
  const long row_blocks = (s.oh + rows_per_task - 1) / rows_per_task;
  parallel_for((long)s.n * row_blocks, [&](long task, int) {
    const long n = task / row_blocks, oh0 = (task % row_blocks) * rows_per_task;
    run_forward_rows(plan, x, y, n, oh0, std::min(rows_per_task, s.oh - oh0));
  });
  return true;
}

// dx = conv(dy, filter rotated by 180 degrees with Cin/Cout swapped), padding (k - 1) * d - p. With stride
// s > 1 (dilation 1) dx splits into s x s phases (ih = ph + s * a): phase (ph, pw) only receives the taps
// th = ph + pt (mod s), and over a it is a stride-1 convolution of dy with those taps (rotated), written to
// every s-th row / pixel of dx. One work item computes every phase of one image (dy stays in cache).
static bool direct_conv2d_backprop_input(const ConvShape& s, const float* dy, const float* filter, float* dx) {
  if ((s.sh != 1 || s.sw != 1) && (s.dh != 1 || s.dw != 1)) return false;
  {
    // Support check on the shape every phase shares (channels and the unit row stride).
    ConvShape probe{s.n, s.oh, s.ow, s.cout, 1, 1, s.cin, s.h, s.w, 1, 1, 1, 1, 0, 0};
    if (!direct_supported(probe) || (long)s.kh * s.kw * (s.cout / 16) > 1024) return false;
  }
  const long image_size = (long)s.h * s.w * s.cin;
  struct Phase {
    float* dx;  // its first pixel
    OutputLayout layout;
    long rows, cols;
    int plan;  // index into plans, or -1: no tap reaches these pixels (zeros)
  };
  std::vector<ForwardPlan> plans;
  std::vector<Phase> phases;
  std::vector<float> rotated((size_t)s.kh * s.kw * s.cin * s.cout);
  plans.reserve((size_t)s.sh * s.sw);
  for (int ph = 0; ph < s.sh; ph++)
    for (int pw = 0; pw < s.sw; pw++) {
      // Taps of this phase along each axis, ascending: th_j = th0 + j * stride.
      const int th0 = (((ph + s.pt) % s.sh) + s.sh) % s.sh, tw0 = (((pw + s.pl) % s.sw) + s.sw) % s.sw;
      const int taps_h = th0 < s.kh ? (s.kh - 1 - th0) / s.sh + 1 : 0;
      const int taps_w = tw0 < s.kw ? (s.kw - 1 - tw0) / s.sw + 1 : 0;
      const long rows = ph < s.h ? (s.h - ph + s.sh - 1) / s.sh : 0, cols = pw < s.w ? (s.w - pw + s.sw - 1) / s.sw : 0;
      if (rows == 0 || cols == 0) continue;
      const OutputLayout phase{image_size, (long)s.sh * s.w * s.cin, (long)s.sw * s.cin};
      float* phase_dx = dx + ((long)ph * s.w + pw) * s.cin;
      if (taps_h == 0 || taps_w == 0) {
        phases.push_back({phase_dx, phase, rows, cols, -1});
        continue;
      }
      // Output a reads dy rows a + q_j with q_j = (ph + pt - th_j * dh) / sh = q0 - j.
      const int q0h = (ph + s.pt - th0 * s.dh) / s.sh, q0w = (pw + s.pl - tw0 * s.dw) / s.sw;
      const int dilation_h = s.sh == 1 ? s.dh : 1, dilation_w = s.sw == 1 ? s.dw : 1;
      ConvShape t{s.n, s.oh, s.ow, s.cout, taps_h, taps_w, s.cin, (int)rows, (int)cols, 1, 1, dilation_h, dilation_w,
                  (taps_h - 1) * dilation_h - q0h, (taps_w - 1) * dilation_w - q0w};
      if (s.sh == 1) t.pt = (s.kh - 1) * s.dh - s.pt;
      if (s.sw == 1) t.pl = (s.kw - 1) * s.dw - s.pl;
      // rotated[t'h][t'w][co][ci] = filter[th_(Th-1-t'h)][tw_(Tw-1-t'w)][ci][co].
      for (int i = 0; i < taps_h; i++)
        for (int j = 0; j < taps_w; j++) {
          const int th = th0 + (taps_h - 1 - i) * s.sh, tw = tw0 + (taps_w - 1 - j) * s.sw;
          const float* src = filter + ((long)th * s.kw + tw) * s.cin * s.cout;
          float* dst = &rotated[((long)i * taps_w + j) * s.cout * s.cin];
          for (long co = 0; co < s.cout; co++)
            for (long ci = 0; ci < s.cin; ci++) dst[co * s.cin + ci] = src[ci * s.cout + co];
        }
      plans.emplace_back();
      if (!make_forward_plan(t, rotated.data(), nullptr, false, phase, plans.back())) return false;
      phases.push_back({phase_dx, phase, rows, cols, (int)plans.size() - 1});
    }
  if (s.sh == 1 && s.sw == 1 && plans.size() == 1) {
    // One phase: split images into row blocks as the forward pass does.
    const ForwardPlan& plan = plans[0];
    const long oh = plan.s.oh, ow = plan.s.ow;
    const long rows_per_task = std::max<long>(1, std::min<long>(oh, (512 + ow - 1) / ow));
    const long row_blocks = (oh + rows_per_task - 1) / rows_per_task;
    parallel_for((long)s.n * row_blocks, [&](long task, int) {
      const long n = task / row_blocks, oh0 = (task % row_blocks) * rows_per_task;
      run_forward_rows(plan, dy, dx, n, oh0, std::min(rows_per_task, oh - oh0));
    });
    return true;
  }
  // All phases read the same dy image with different padding: one slab padded by the largest top / left
  // padding and wide enough for every phase, each phase starting at its own offset in it.
  long top = 0, left = 0, slab_rows = 0, slab_cols = 0;
  for (const ForwardPlan& plan : plans) top = std::max<long>(top, plan.s.pt), left = std::max<long>(left, plan.s.pl);
  for (const ForwardPlan& plan : plans) {
    const ConvShape& t = plan.s;
    slab_rows = std::max(slab_rows, top - t.pt + (t.oh - 1) + (long)(t.kh - 1) * t.dh + 1);
    slab_cols = std::max(slab_cols, left - t.pl + plan.slab_cols);
  }
  const long line = slab_cols * s.cout;
  const ConvShape dy_shape{s.n, s.oh, s.ow, s.cout, 1, 1, s.cin, s.oh, s.ow, 1, 1, 1, 1, 0, 0};
  parallel_for(s.n, [&](long n, int) {
    static thread_local std::vector<float> slab;
    if (slab.size() < (size_t)(slab_rows * line)) slab.resize((size_t)(slab_rows * line));
    fill_slab(dy_shape, dy + n * (long)s.oh * s.ow * s.cout, -top, slab_rows, -left, slab_cols, slab.data());
    for (const Phase& phase : phases) {
      if (phase.plan >= 0) {
        const ForwardPlan& plan = plans[(size_t)phase.plan];
        const float* origin = slab.data() + (top - plan.s.pt) * line + (left - plan.s.pl) * s.cout;
        plan.function(plan.s, origin, line, plan.packed.data(), nullptr, false, phase.dx + n * plan.out.image,
                      plan.out, phase.rows);
        continue;
      }
      for (long a = 0; a < phase.rows; a++)
        for (long b = 0; b < phase.cols; b++)
          std::memset(phase.dx + n * phase.layout.image + a * phase.layout.row + b * phase.layout.pixel, 0,
                      sizeof(float) * s.cin);
    }
  });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Filter gradient

// dw[i][j] (ld = cout) += sum over the block's pixels of x[pixel][i] * dy[pixel][j*VW ...].
template <int MR, int NV>
static void filter_tile(const float* __restrict x, long x_row_step, long x_pixel_step, const float* __restrict dy,
                        long cout, long rows, long width, float* __restrict dw) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) acc[i][j] = vf{};
  for (long r = 0; r < rows; r++) {
    const float* xp = x + r * x_row_step;
    const float* d = dy + r * width * cout;
    for (long p = 0; p < width; p++, xp += x_pixel_step, d += cout) {
      vf bv[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; j++) bv[j] = load(d + j * VW);
#pragma GCC unroll 32
      for (int i = 0; i < MR; i++) {
        vf av = splat(xp[i]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++) acc[i][j] += av * bv[j];
      }
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) store(dw + i * cout + j * VW, load(dw + i * cout + j * VW) + acc[i][j]);
}

typedef void (*FilterTile)(const float*, long, long, const float*, long, long, long, float*);

// Three horizontal taps at once (stride 1, dilation 1): slab column c feeds output pixels c, c - 1 and c - 2
// of taps 0, 1 and 2, so one broadcast of x[c][ci] serves three FMAs against dy[c], dy[c - 1], dy[c - 2], which
// slide through registers (zero outside the row). dw points at tap (th, 0); taps are tap_stride apart.
template <int MR, int NV>
static void filter_tile_row3(const float* __restrict x, long x_row_step, long cin, const float* __restrict dy,
                             long cout, long rows, long width, float* __restrict dw, long tap_stride) {
  vf acc[3][MR][NV];
#pragma GCC unroll 4
  for (int t = 0; t < 3; t++)
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) acc[t][i][j] = vf{};
  for (long r = 0; r < rows; r++) {
    const float* xp = x + r * x_row_step;
    const float* d = dy + r * width * cout;
    vf w0[NV], w1[NV], w2[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) w0[j] = w1[j] = w2[j] = vf{};
    auto column = [&](long c, bool inside) __attribute__((always_inline)) {
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) {
        w2[j] = w1[j];
        w1[j] = w0[j];
        w0[j] = inside ? load(d + c * cout + j * VW) : vf{};
      }
      const float* xc = xp + c * cin;
#pragma GCC unroll 16
      for (int i = 0; i < MR; i++) {
        vf av = splat(xc[i]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
          acc[0][i][j] += av * w0[j];
          acc[1][i][j] += av * w1[j];
          acc[2][i][j] += av * w2[j];
        }
      }
    };
    for (long c = 0; c < width; c++) column(c, true);
    column(width, false);
    column(width + 1, false);
  }
#pragma GCC unroll 4
  for (int t = 0; t < 3; t++)
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) {
        float* p = dw + t * tap_stride + i * cout + j * VW;
        store(p, load(p) + acc[t][i][j]);
      }
}

static bool direct_conv2d_backprop_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  // Row runs (row_run_supported: an RGB stem): per kernel row th, the kw * cin filter rows (th, tw, ci) read x at run
  // offset j = tw * cin + ci of each output pixel's slab position, so an MR x NV tile covers MR consecutive run
  // offsets as it covers MR input channels otherwise.
  const bool row_run = row_run_supported(s);
  if (!row_run && !direct_supported(s)) return false;
  const long vectors = s.cout / VW, run = (long)s.kw * s.cin;
  int mr = 0, nv = 0;
  double best_cost = 1e300;
  FilterTile tile = nullptr;
#define X(MR, NV)                                                                 \
  if (vectors % NV == 0 && s.cin % MR == 0) {                                            \
    double cost = tile_cost(MR, NV, MR);                                                 \
    if (cost < best_cost) best_cost = cost, mr = MR, nv = NV, tile = filter_tile<MR, NV>; \
  }
#define R(MR, NV)                                                                                    \
  if (run % MR == 0 && vectors % NV == 0 && MR * NV <= LT_ACC) {                                    \
    double cost = tile_cost(MR, NV, MR) - 0.01 * (MR * NV);                                         \
    if (cost < best_cost) best_cost = cost, mr = MR, nv = NV, tile = filter_tile<MR, NV>;           \
  }
  if (row_run) {
    // Row-run tiles: MR divides the run (9 or 21); among equal load costs more accumulators win.
    R(9, 1) R(3, 2) R(3, 4) R(7, 1) R(3, 1)
  } else {
    LT_FILTER_TILES
  }
#undef R
#undef X
  if (!tile) return false;
  // Fused three-tap tile (3 x MR x 1 accumulators) when the row taps are adjacent pixels and the output
  // channels leave only single-vector tiles (one broadcast per FMA otherwise). Measured on AVX-512: +8 % for
  // 32x32, 16 -> 16; slower where the two padding columns per row weigh more or 2-vector tiles exist.
  constexpr int FUSED_MR = VW == 16 ? 8 : 4;
  const bool fused = !row_run && s.sw == 1 && s.dw == 1 && s.kw == 3 && s.cin % FUSED_MR == 0 &&
                     (s.cout / VW) % 2 == 1 && s.ow >= 24;
  const long K = (long)s.kh * s.kw * s.cin;
  // AVX2 with an even number of output vectors: 6 x 2 tiles (12 of the 16 registers accumulate) over as many input
  // channels as a 6/4 split of Cin allows, 4 x 2 for the rest (16 = 6 + 6 + 4). Measured one thread on the 2-core EPYC
  // held to AVX2: +1..13 % (mean +7 %) over 4 x 2 alone on the ResNet-32 shapes; the fused three-tap tile is no better.
  const bool six_rows = !row_run && VW == 8 && mr == 4 && nv == 2 && s.cin % 4 == 0;
  // Work items: (image, block of output rows) of about 256 pixels; each tile accumulates over all of them
  // in registers (smaller blocks measured slower: more partial-sum updates per FMA).
  const long rows_per_task = std::max<long>(1, std::min<long>(s.oh, (256 + s.ow - 1) / s.ow));
  const long row_blocks = (s.oh + rows_per_task - 1) / rows_per_task;
  const long slab_cols = (long)(s.ow - 1) * s.sw + (long)(s.kw - 1) * s.dw + 1;
  const long line = slab_cols * s.cin;
  const long image_size = (long)s.h * s.w * s.cin;
  // Summed over work items in a fixed order unless deterministic reductions are off (sum_over_work_items).
  sum_over_work_items((long)s.n * row_blocks, K * s.cout, dw, [&](long task, float* sum) {
    const long n = task / row_blocks, oh0 = (task % row_blocks) * rows_per_task;
    const long rows = std::min(rows_per_task, s.oh - oh0);
    const long slab_rows = (rows - 1) * s.sh + (long)(s.kh - 1) * s.dh + 1;
    static thread_local std::vector<float> slab;
    if (slab.size() < (size_t)(slab_rows * line)) slab.resize((size_t)(slab_rows * line));
    fill_slab(s, x + n * image_size, oh0 * s.sh - s.pt, slab_rows, -s.pl, slab_cols, slab.data());
    const float* dy_block = dy + ((n * s.oh + oh0) * s.ow) * s.cout;
    if (row_run) {
      for (int th = 0; th < s.kh; th++) {
        const float* x_row = slab.data() + (long)th * s.dh * line;
        float* dw_row = sum + (long)th * run * s.cout;
        for (long j = 0; j < run; j += mr)
          for (long co = 0; co < s.cout; co += (long)nv * VW)
            tile(x_row + j, s.sh * line, (long)s.sw * s.cin, dy_block + co, s.cout, rows, s.ow, dw_row + j * s.cout + co);
      }
      return;
    }
    if (fused) {
      for (int th = 0; th < s.kh; th++) {
        const float* x_row = slab.data() + (long)th * s.dh * line;
        float* dw_row = sum + (long)th * s.kw * s.cin * s.cout;
        for (long ci = 0; ci < s.cin; ci += FUSED_MR)
          for (long co = 0; co < s.cout; co += VW)
            filter_tile_row3<FUSED_MR, 1>(x_row + ci, s.sh * line, s.cin, dy_block + co, s.cout, rows, s.ow,
                                          dw_row + ci * s.cout + co, (long)s.cin * s.cout);
      }
      return;
    }
    for (int th = 0; th < s.kh; th++)
      for (int tw = 0; tw < s.kw; tw++) {
        const float* x_tap = slab.data() + (long)th * s.dh * line + (long)tw * s.dw * s.cin;
        float* dw_tap = sum + ((long)th * s.kw + tw) * s.cin * s.cout;
        if (six_rows) {
          for (long ci = 0; ci < s.cin;) {
            // Six while what is left is not a multiple of 4 or is at least 12 (every Cin that is a multiple of 4 splits).
            const bool six = (s.cin - ci) % 4 != 0 || (s.cin - ci) >= 12;
            FilterTile t = six ? filter_tile<6, 2> : filter_tile<4, 2>;
            for (long co = 0; co < s.cout; co += 2 * VW)
              t(x_tap + ci, s.sh * line, (long)s.sw * s.cin, dy_block + co, s.cout, rows, s.ow, dw_tap + ci * s.cout + co);
            ci += six ? 6 : 4;
          }
          continue;
        }
        for (long ci = 0; ci < s.cin; ci += mr)
          for (long co = 0; co < s.cout; co += (long)nv * VW)
            tile(x_tap + ci, s.sh * line, (long)s.sw * s.cin, dy_block + co, s.cout, rows, s.ow, dw_tap + ci * s.cout + co);
      }
  });
  return true;
}

#undef LT_FORWARD_TILES
#undef LT_FILTER_TILES
