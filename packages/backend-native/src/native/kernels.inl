// Kernels for one SIMD level. Each kernels_<level>.cc includes this file inside a `#pragma GCC target(...)`
// region with LT_NS (namespace), LT_VW (floats per vector) and LT_ACC (accumulator registers the GEMM microkernel
// may use) defined, so every function here (lambdas included) is compiled for that instruction set and selected at
// run time through the unit's KernelTable.
//
// Layouts: row-major, NHWC activations, [KH, KW, Cin, Cout] filters, float32 throughout.

namespace LT_NS {

constexpr int VW = LT_VW;
typedef float vf __attribute__((vector_size(LT_VW * 4)));
// Same vector type with 4-byte alignment: dereferencing it is an unaligned load/store.
typedef float vfu __attribute__((vector_size(LT_VW * 4), aligned(4)));

static inline vf load(const float* p) { return *reinterpret_cast<const vfu*>(p); }
static inline void store(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
// s - 0 is exactly s for every float (0 + s is not, for s = -0), so this folds to a plain broadcast.
static inline vf splat(float s) { return s - vf{}; }
static inline vf vmax(vf a, vf b) { return a > b ? a : b; }

// ---------------------------------------------------------------------------------------------
// GEMM: C[M x N] (=|+=) A[M x K] * B[K x N] (+ bias[N]) (relu).
//
// A is "k-blocked": panel p holds K-columns [p*KC, p*KC + KC) of every row, each row as KC consecutive
// floats, so the microkernel reads row i of a panel at a constant offset i*KC and every A element is
// one broadcast-FMA memory operand. Building that layout is a cheap contiguous copy (im2col writes it
// directly). B is read in place, row-major, as NV vectors per k; its rows up to the padded K must be
// zero-filled by the caller. Rows of A are padded (zeros) to a multiple of ROW_ALIGN.

constexpr long KC = 16;
constexpr long ROW_ALIGN = 24;  // a multiple of every tile height used below
static inline long round_up(long value, long multiple) { return (value + multiple - 1) / multiple * multiple; }

struct Epilogue {
  bool accumulate;    // C += result instead of C = result
  const float* bias;  // length >= N, or nullptr
  bool relu;
};

template <int MR, int NV>
static inline void micro_kernel(long k_panels, const float* __restrict A, long a_panel_stride,
                                const float* __restrict B, long ldb, float* __restrict C, long ldc, int rows,
                                int cols, const Epilogue& epilogue) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) acc[i][j] = vf{};
  for (long p = 0; p < k_panels; p++) {
    const float* a = A + p * a_panel_stride;
    const float* b = B + p * KC * ldb;
#pragma GCC unroll 16
    for (int kk = 0; kk < KC; kk++) {
      vf bv[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; j++) bv[j] = load(b + kk * ldb + j * VW);
#pragma GCC unroll 32
      for (int i = 0; i < MR; i++) {
        vf av = splat(a[i * KC + kk]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++) acc[i][j] += av * bv[j];
      }
    }
  }
  if (rows == MR && cols == NV * VW) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
      for (int j = 0; j < NV; j++) {
        float* c = C + i * ldc + j * VW;
        vf v = acc[i][j];
        if (epilogue.accumulate) v += load(c);
        if (epilogue.bias) v += load(epilogue.bias + j * VW);
        if (epilogue.relu) v = vmax(v, vf{});
        store(c, v);
      }
    return;
  }
  alignas(64) float tile[MR][NV * VW];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NV; j++) store(&tile[i][j * VW], acc[i][j]);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      float v = tile[i][j];
      float* c = C + i * ldc + j;
      if (epilogue.accumulate) v += *c;
      if (epilogue.bias) v += epilogue.bias[j];
      if (epilogue.relu) v = v > 0.f ? v : 0.f;
      *c = v;
    }
}

template <int MR, int NV>
static void gemm_tiles(long M, long N, long k_panels, const float* A, long a_panel_stride, const float* B, long ldb,
                       float* C, long ldc, const Epilogue& epilogue) {
  constexpr int NR = NV * VW;
  static thread_local std::vector<float> b_tail, bias_tail;
  const long K = k_panels * KC;
  for (long j0 = 0; j0 < N; j0 += NR) {
    int cols = (int)std::min<long>(NR, N - j0);
    const float* panel = B + j0;
    long panel_ld = ldb;
    Epilogue panel_epilogue = epilogue;
    if (epilogue.bias) panel_epilogue.bias = epilogue.bias + j0;
    if (cols < NR) {
      // The ragged last column panel is copied zero-padded so that full vectors can be loaded.
      b_tail.assign((size_t)K * NR, 0.f);
      for (long k = 0; k < K; k++)
        for (int j = 0; j < cols; j++) b_tail[k * NR + j] = B[k * ldb + j0 + j];
      panel = b_tail.data();
      panel_ld = NR;
      if (epilogue.bias) {
        bias_tail.assign(NR, 0.f);
        for (int j = 0; j < cols; j++) bias_tail[j] = epilogue.bias[j0 + j];
        panel_epilogue.bias = bias_tail.data();
      }
    }
    for (long i0 = 0; i0 < M; i0 += MR) {
      int rows = (int)std::min<long>(MR, M - i0);
      micro_kernel<MR, NV>(k_panels, A + i0 * KC, a_panel_stride, panel, panel_ld, C + i0 * ldc + j0, ldc, rows, cols,
                           panel_epilogue);
    }
  }
}

// Register-tile shapes (rows x vectors) using LT_ACC accumulators; picked per call to minimize the
// padded work, so channel counts such as 16, 48, 144 or 576 waste little.
static int pick_tile(long M, long N) {
  static const int shapes[4][2] = {{LT_ACC, 1}, {LT_ACC / 2, 2}, {LT_ACC / 3, 3}, {LT_ACC / 4, 4}};
  int best = 0;
  double best_cost = 1e300;
  for (int s = 0; s < 4; s++) {
    long mr = shapes[s][0], nr = (long)shapes[s][1] * VW;
    double padded = (double)round_up(M, mr) * (double)round_up(N, nr);
    // Loads per FMA favour wide tiles when the padding is equal.
    double loads = (double)(mr + shapes[s][1]) / (double)(mr * shapes[s][1]);
    double cost = padded * (1.0 + 0.25 * loads);
    if (cost < best_cost) best_cost = cost, best = s;
  }
  return best;
}

static void gemm(long M, long N, long k_panels, const float* A, long a_panel_stride, const float* B, long ldb,
                 float* C, long ldc, const Epilogue& epilogue) {
  if (M <= 0 || N <= 0) return;
  switch (pick_tile(M, N)) {
    case 0: gemm_tiles<LT_ACC, 1>(M, N, k_panels, A, a_panel_stride, B, ldb, C, ldc, epilogue); break;
    case 1: gemm_tiles<LT_ACC / 2, 2>(M, N, k_panels, A, a_panel_stride, B, ldb, C, ldc, epilogue); break;
    case 2: gemm_tiles<LT_ACC / 3, 3>(M, N, k_panels, A, a_panel_stride, B, ldb, C, ldc, epilogue); break;
    default: gemm_tiles<LT_ACC / 4, 4>(M, N, k_panels, A, a_panel_stride, B, ldb, C, ldc, epilogue); break;
  }
}

// Copies rows x K of a row-major matrix into the k-blocked layout (zero padding to whole panels and to
// a multiple of ROW_ALIGN rows). Returns the panel stride.
static long pack_rows(const float* src, long lda, long rows, long K, float* dst) {
  const long padded_rows = round_up(rows, ROW_ALIGN), panels = (K + KC - 1) / KC, stride = padded_rows * KC;
  for (long p = 0; p < panels; p++) {
    float* panel = dst + p * stride;
    const long k0 = p * KC, width = std::min(KC, K - k0);
    for (long r = 0; r < rows; r++) {
      const float* s = src + r * lda + k0;
      float* d = panel + r * KC;
      if (width == KC) {
        for (long kk = 0; kk < KC; kk++) d[kk] = s[kk];
      } else {
        for (long kk = 0; kk < KC; kk++) d[kk] = kk < width ? s[kk] : 0.f;
      }
    }
    std::memset(panel + rows * KC, 0, sizeof(float) * (padded_rows - rows) * KC);
  }
  return stride;
}

// Copy of a K x N row-major matrix with rows zero-padded to a multiple of KC (B operands).
static const float* pad_k_rows(const float* B, long K, long N, std::vector<float>& storage) {
  if (K % KC == 0) return B;
  storage.assign((size_t)round_up(K, KC) * N, 0.f);
  std::memcpy(storage.data(), B, sizeof(float) * K * N);
  return storage.data();
}

// Rows per work item so that an im2col block stays in L2; a multiple of 48 (ROW_ALIGN and KC).
static long block_rows(long K) {
  long rows = 98304 / std::max<long>(K, 1);
  rows = std::max<long>(48, std::min<long>(rows, 480));
  return rows / 48 * 48;
}

// ---------------------------------------------------------------------------------------------
// Convolutions (NHWC). im2col row m = (n, oh, ow); column k = (kh, kw, ci).

static inline void copy_floats(float* __restrict dst, const float* __restrict src, long count) {
  for (long i = 0; i < count; i++) dst[i] = src[i];
}

// Copies / adds `count` floats, a multiple of KC (the common channel counts 16, 32, 64), in whole
// 16-float blocks: fixed-size moves the compiler turns into a few vector instructions.
static inline void copy_blocks(float* __restrict dst, const float* __restrict src, long count) {
  for (long i = 0; i < count; i += KC) std::memcpy(dst + i, src + i, sizeof(float) * KC);
}
static inline void zero_blocks(float* dst, long count) {
  for (long i = 0; i < count; i += KC) std::memset(dst + i, 0, sizeof(float) * KC);
}

// im2col rows [m0, m0 + rows) written straight into the k-blocked layout; returns the panel stride.
static long im2col_blocked(const ConvShape& s, const float* x, long m0, long rows, float* dst) {
  const long K = (long)s.kh * s.kw * s.cin;
  const long padded_rows = round_up(rows, ROW_ALIGN), stride = padded_rows * KC;
  const long panels = (K + KC - 1) / KC;
  if (s.cin % KC == 0) {
    // Every (kh, kw) segment is cin / KC whole panel rows: copy or zero them, no clearing pass.
    const long blocks = s.cin / KC;
    long ow = m0 % s.ow, t = m0 / s.ow, oh = t % s.oh, n = t / s.oh;
    for (long r = 0; r < rows; r++) {
      const float* image = x + n * (long)s.h * s.w * s.cin;
      long panel = 0;
      for (int kh = 0; kh < s.kh; kh++) {
        long ih = oh * s.sh - s.pt + kh * s.dh;
        for (int kw = 0; kw < s.kw; kw++, panel += blocks) {
          long iw = ow * s.sw - s.pl + kw * s.dw;
          float* d = dst + panel * stride + r * KC;
          if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) {
            for (long b = 0; b < blocks; b++) zero_blocks(d + b * stride, KC);
          } else {
            const float* src = image + (ih * s.w + iw) * s.cin;
            for (long b = 0; b < blocks; b++) copy_blocks(d + b * stride, src + b * KC, KC);
          }
        }
      }
      if (++ow == s.ow) {
        ow = 0;
        if (++oh == s.oh) oh = 0, n++;
      }
    }
    for (long p = 0; p < panels; p++) std::memset(dst + p * stride + rows * KC, 0, sizeof(float) * (padded_rows - rows) * KC);
    return stride;
  }
  std::memset(dst, 0, sizeof(float) * panels * stride);
  for (long r = 0; r < rows; r++) {
    long m = m0 + r;
    long ow = m % s.ow, t = m / s.ow, oh = t % s.oh, n = t / s.oh;
    const float* image = x + n * (long)s.h * s.w * s.cin;
    long k = 0;
    for (int kh = 0; kh < s.kh; kh++) {
      long ih = oh * s.sh - s.pt + kh * s.dh;
      for (int kw = 0; kw < s.kw; kw++, k += s.cin) {
        long iw = ow * s.sw - s.pl + kw * s.dw;
        if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;  // already zero
        const float* src = image + (ih * s.w + iw) * s.cin;
        long kk = k, remaining = s.cin;
        while (remaining > 0) {
          long offset = kk % KC, count = std::min(remaining, KC - offset);
          copy_floats(dst + (kk / KC) * stride + r * KC + offset, src, count);
          kk += count, src += count, remaining -= count;
        }
      }
    }
  }
  return stride;
}

// Row-major im2col with K floats per row; rows up to `padded_rows` are zero. When all kw taps of a
// kernel row fall inside the image (and dilation is 1) they are one contiguous run of kw * cin floats.
static void im2col_rows(const ConvShape& s, const float* x, long m0, long rows, long padded_rows, float* col) {
  const long K = (long)s.kh * s.kw * s.cin, run = (long)s.kw * s.cin;
  for (long r = 0; r < rows; r++) {
    long m = m0 + r;
    long ow = m % s.ow, t = m / s.ow, oh = t % s.oh, n = t / s.oh;
    float* dst = col + r * K;
    const float* image = x + n * (long)s.h * s.w * s.cin;
    const long iw0 = ow * s.sw - s.pl;
    const bool row_inside = s.dw == 1 && iw0 >= 0 && iw0 + s.kw <= s.w;
    for (int kh = 0; kh < s.kh; kh++) {
      long ih = oh * s.sh - s.pt + kh * s.dh;
      if (row_inside && ih >= 0 && ih < s.h) {
        std::memcpy(dst, image + (ih * s.w + iw0) * s.cin, sizeof(float) * run);
        dst += run;
        continue;
      }
      for (int kw = 0; kw < s.kw; kw++) {
        long iw = iw0 + kw * s.dw;
        const bool outside = ih < 0 || ih >= s.h || iw < 0 || iw >= s.w;
        if (s.cin % KC == 0) {
          if (outside) zero_blocks(dst, s.cin);
          else copy_blocks(dst, image + (ih * s.w + iw) * s.cin, s.cin);
        } else if (outside) {
          for (int c = 0; c < s.cin; c++) dst[c] = 0.f;
        } else {
          copy_floats(dst, image + (ih * s.w + iw) * s.cin, s.cin);
        }
        dst += s.cin;
      }
    }
  }
  std::memset(col + rows * K, 0, sizeof(float) * (padded_rows - rows) * K);
}

static void col2im_add_rows(const ConvShape& s, const float* col, long m0, long rows, float* dx) {
  const long K = (long)s.kh * s.kw * s.cin, run = (long)s.kw * s.cin;
  for (long r = 0; r < rows; r++) {
    long m = m0 + r;
    long ow = m % s.ow, t = m / s.ow, oh = t % s.oh, n = t / s.oh;
    const float* src = col + r * K;
    float* image = dx + n * (long)s.h * s.w * s.cin;
    const long iw0 = ow * s.sw - s.pl;
    const bool row_inside = s.dw == 1 && iw0 >= 0 && iw0 + s.kw <= s.w;
    for (int kh = 0; kh < s.kh; kh++) {
      long ih = oh * s.sh - s.pt + kh * s.dh;
      if (row_inside && ih >= 0 && ih < s.h) {
        float* __restrict d = image + (ih * s.w + iw0) * s.cin;
        long c = 0;
        for (; c + VW <= run; c += VW) store(d + c, load(d + c) + load(src + c));
        for (; c < run; c++) d[c] += src[c];
        src += run;
        continue;
      }
      for (int kw = 0; kw < s.kw; kw++) {
        long iw = iw0 + kw * s.dw;
        if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) {
          float* __restrict d = image + (ih * s.w + iw) * s.cin;
          if (s.cin % VW == 0) {
            for (long c = 0; c < s.cin; c += VW) store(d + c, load(d + c) + load(src + c));
          } else {
            for (int c = 0; c < s.cin; c++) d[c] += src[c];
          }
        }
        src += s.cin;
      }
    }
  }
}

static bool is_pointwise(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 && s.pl == 0 && s.oh == s.h && s.ow == s.w;
}

// ---------------------------------------------------------------------------------------------
// Sum over work items: out[0, size) = the sum of what every work item `task` in [0, tasks) adds into a zeroed
// buffer with `body(task, sum)` (the filter gradients: one work item per block of pixels).
// Deterministic (default): the work items are split into reduction_groups() fixed ranges of consecutive items, a
// function of `tasks` alone (up to REDUCTION_GROUPS threads); each range is one parallel job that runs its items in
// order into its own partial sum, and the partials are added element by element in range order. So the result
// does not depend on which thread ran what, or when. Otherwise one partial per thread (fewer buffers to clear and
// add, but the items each partial gets, hence the rounding, vary from run to run). Partial 0 is `out` itself.
template <typename Body>
static void sum_over_work_items(long tasks, long size, float* out, Body&& body) {
  if (size <= 0) return;
  if (tasks <= 0) {
    std::memset(out, 0, sizeof(float) * size);
    return;
  }
  const int threads = pool_threads();
  const bool fixed = deterministic_reductions.load(std::memory_order_relaxed);
  const long partials = fixed ? reduction_groups(tasks, threads) : threads;
  std::unique_ptr<float[]> storage(partials > 1 ? new float[(size_t)(partials - 1) * size] : nullptr);
  std::vector<char> used((size_t)partials, 0);
  auto partial = [&](long index) { return index == 0 ? out : storage.get() + (index - 1) * size; };
  if (fixed) {
    parallel_for(partials, [&](long group, int) {
      float* sum = partial(group);
      std::memset(sum, 0, sizeof(float) * size);
      used[(size_t)group] = 1;
      const long t0 = tasks * group / partials, t1 = tasks * (group + 1) / partials;
      for (long t = t0; t < t1; t++) body(t, sum);
    });
  } else {
    parallel_for(tasks, [&](long task, int thread) {
      float* sum = partial(thread);
      if (!used[(size_t)thread]) {
        std::memset(sum, 0, sizeof(float) * size);
        used[(size_t)thread] = 1;
      }
      body(task, sum);
    });
    if (!used[0]) std::memset(out, 0, sizeof(float) * size);
  }
  if (partials == 1) return;
  // Element-wise, partials in index order; split by element ranges (each element's order is the same either way).
  const long chunk = 4096, chunks = (size + chunk - 1) / chunk;
  auto add = [&](long c, int) {
    const long i0 = c * chunk, i1 = std::min(size, i0 + chunk);
    for (long p = 1; p < partials; p++) {
      if (!used[(size_t)p]) continue;
      const float* __restrict src = partial(p);
      float* __restrict dst = out;
      for (long i = i0; i < i1; i++) dst[i] += src[i];
    }
  };
  if (size * partials < 262144) for (long c = 0; c < chunks; c++) add(c, 0);
  else parallel_for(chunks, add);
}

#include "direct_conv.inl"

static void conv2d(const ConvShape& s, const float* x, const float* filter, const float* bias, bool relu, float* y) {
  if (direct_conv2d(s, x, filter, bias, relu, y)) return;
  const long M = (long)s.n * s.oh * s.ow, K = (long)s.kh * s.kw * s.cin, N = s.cout;
  const long k_panels = (K + KC - 1) / KC;
  std::vector<float> filter_storage;
  const float* b = pad_k_rows(filter, K, N, filter_storage);
  const Epilogue epilogue{false, bias, relu};
  const long rows_per_task = block_rows(K);
  const long tasks = (M + rows_per_task - 1) / rows_per_task;
  const bool pointwise = is_pointwise(s);
  parallel_for(tasks, [&](long task, int) {
    long m0 = task * rows_per_task, rows = std::min(rows_per_task, M - m0);
    static thread_local std::vector<float> a;
    a.resize((size_t)round_up(rows_per_task, ROW_ALIGN) * k_panels * KC);
    long stride = pointwise ? pack_rows(x + m0 * K, K, rows, K, a.data()) : im2col_blocked(s, x, m0, rows, a.data());
    gemm(rows, N, k_panels, a.data(), stride, b, N, y + m0 * N, N, epilogue);
  });
}

// dx = col2im(dy [M x Cout] * filter^T [Cout x K]); work items are whole images so the
// scatter-adds of different threads never overlap.
static void conv2d_backprop_input(const ConvShape& s, const float* dy, const float* filter, float* dx) {
  if (direct_conv2d_backprop_input(s, dy, filter, dx)) return;
  const long K = (long)s.kh * s.kw * s.cin, N = s.cout;
  const long n_panels = (N + KC - 1) / KC;
  const long pixels = (long)s.oh * s.ow;
  std::vector<float> filter_t((size_t)n_panels * KC * K, 0.f);  // [Cout padded to KC] x K
  for (long k = 0; k < K; k++)
    for (long c = 0; c < N; c++) filter_t[c * K + k] = filter[k * N + c];
  const Epilogue overwrite{false, nullptr, false};
  if (is_pointwise(s)) {
    const long M = (long)s.n * pixels, rows_per_task = block_rows(N);
    parallel_for((M + rows_per_task - 1) / rows_per_task, [&](long task, int) {
      long m0 = task * rows_per_task, rows = std::min(rows_per_task, M - m0);
      static thread_local std::vector<float> a;
      a.resize((size_t)round_up(rows_per_task, ROW_ALIGN) * n_panels * KC);
      long stride = pack_rows(dy + m0 * N, N, rows, N, a.data());
      gemm(rows, K, n_panels, a.data(), stride, filter_t.data(), K, dx + m0 * K, K, overwrite);
    });
    return;
  }
  const long image_size = (long)s.h * s.w * s.cin;
  const long rows_per_block = block_rows(K);
  parallel_for(s.n, [&](long n, int) {
    std::memset(dx + n * image_size, 0, sizeof(float) * image_size);
    static thread_local std::vector<float> col, a;
    col.resize((size_t)rows_per_block * K);
    a.resize((size_t)round_up(rows_per_block, ROW_ALIGN) * n_panels * KC);
    for (long p0 = 0; p0 < pixels; p0 += rows_per_block) {
      long rows = std::min(rows_per_block, pixels - p0);
      long m0 = n * pixels + p0;
      long stride = pack_rows(dy + m0 * N, N, rows, N, a.data());
      gemm(rows, K, n_panels, a.data(), stride, filter_t.data(), K, col.data(), K, overwrite);
      col2im_add_rows(s, col.data(), m0, rows, dx);
    }
  });
}

// dW^T [Cout x K] = dy^T [Cout x M] * col [M x K], summed over row blocks (sum_over_work_items), then transposed
// into dW [K x Cout].
static void conv2d_backprop_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (direct_conv2d_backprop_filter(s, x, dy, dw)) return;
  const long M = (long)s.n * s.oh * s.ow, K = (long)s.kh * s.kw * s.cin, N = s.cout;
  const long rows_per_task = block_rows(K);  // a multiple of KC: whole reduction panels
  const long tasks = (M + rows_per_task - 1) / rows_per_task;
  const bool pointwise = is_pointwise(s);
  const long padded_n = round_up(N, ROW_ALIGN);
  std::vector<float> dw_t((size_t)N * K);
  sum_over_work_items(tasks, N * K, dw_t.data(), [&](long task, float* sum) {
    long m0 = task * rows_per_task, rows = std::min(rows_per_task, M - m0);
    long k_rows = round_up(rows, KC), panels = k_rows / KC, stride = padded_n * KC;
    static thread_local std::vector<float> col, a;
    // A = dy^T in the k-blocked layout: panel p, row c holds dy[m0 + p*KC + kk][c].
    a.assign((size_t)panels * stride, 0.f);
    for (long r = 0; r < rows; r++) {
      const float* d = dy + (m0 + r) * N;
      float* panel = a.data() + (r / KC) * stride + (r % KC);
      for (long c = 0; c < N; c++) panel[c * KC] = d[c];
    }
    const float* b;
    if (pointwise && rows == k_rows) {
      b = x + m0 * K;
    } else {
      col.resize((size_t)rows_per_task * K);
      if (pointwise) {
        std::memcpy(col.data(), x + m0 * K, sizeof(float) * rows * K);
        std::memset(col.data() + rows * K, 0, sizeof(float) * (k_rows - rows) * K);
      } else {
        im2col_rows(s, x, m0, rows, k_rows, col.data());
      }
      b = col.data();
    }
    gemm(N, K, panels, a.data(), stride, b, K, sum, K, Epilogue{true, nullptr, false});
  });
  for (long k = 0; k < K; k++)
    for (long c = 0; c < N; c++) dw[k * N + c] = dw_t[c * K + k];
}

// C[b] = op(A[b]) * op(B[b]) (+ bias[N]) (relu); batch strides 0 broadcast a single matrix.
static void batch_matmul(long batch, long M, long N, long K, const float* a, long a_batch_stride, bool transpose_a,
                         const float* b, long b_batch_stride, bool transpose_b, const float* bias, bool relu, float* c) {
  const Epilogue epilogue{false, bias, relu};
  const long k_panels = (K + KC - 1) / KC, padded_k = k_panels * KC;
  // B copied once per distinct batch entry into row-major [padded K x N] (transposed if asked).
  const long distinct_b = b_batch_stride == 0 ? 1 : batch;
  std::vector<float> b_copy;
  if (transpose_b || padded_k != K) {
    b_copy.assign((size_t)distinct_b * padded_k * N, 0.f);
    for (long i = 0; i < distinct_b; i++)
      for (long k = 0; k < K; k++)
        for (long n = 0; n < N; n++)
          b_copy[(i * padded_k + k) * N + n] = transpose_b ? b[i * b_batch_stride + n * K + k] : b[i * b_batch_stride + k * N + n];
    b = b_copy.data();
    b_batch_stride = distinct_b == 1 ? 0 : padded_k * N;
  }
  std::vector<float> a_copy;
  if (transpose_a) {
    long distinct = a_batch_stride == 0 ? 1 : batch;
    a_copy.resize((size_t)distinct * M * K);
    for (long i = 0; i < distinct; i++)
      for (long k = 0; k < K; k++)
        for (long m = 0; m < M; m++) a_copy[i * M * K + m * K + k] = a[i * a_batch_stride + k * M + m];
    a = a_copy.data();
    if (a_batch_stride != 0) a_batch_stride = M * K;
  }
  const long rows_per_task = block_rows(K);
  const long row_tasks = (M + rows_per_task - 1) / rows_per_task;
  parallel_for(batch * row_tasks, [&](long task, int) {
    long bi = task / row_tasks, m0 = (task % row_tasks) * rows_per_task;
    long rows = std::min(rows_per_task, M - m0);
    static thread_local std::vector<float> packed;
    packed.resize((size_t)round_up(rows_per_task, ROW_ALIGN) * padded_k);
    long stride = pack_rows(a + bi * a_batch_stride + m0 * K, K, rows, K, packed.data());
    gemm(rows, N, k_panels, packed.data(), stride, b + bi * b_batch_stride, N, c + bi * M * N + m0 * N, N, epilogue);
  });
}

// ---------------------------------------------------------------------------------------------
// Element-wise kernels. Work is split in rows of `row_length`; per row an operand is either a
// contiguous run (pointer + row_index % row_mod * row_stride) or one repeated value.

template <int OP>
static inline vf binary_vector(vf a, vf b) {
  if constexpr (OP == BIN_ADD) return a + b;
  else if constexpr (OP == BIN_SUB) return a - b;
  else if constexpr (OP == BIN_MUL) return a * b;
  else if constexpr (OP == BIN_DIV) return a / b;
  else if constexpr (OP == BIN_MAX) return a > b ? a : b;
  else if constexpr (OP == BIN_MIN) return a < b ? a : b;
  else if constexpr (OP == BIN_SQUARE_GRAD) return a * (b + b);  // tfjs: mul(dy, mul(x, 2))
  else if constexpr (OP == BIN_ADD_RELU) {
    vf v = a + b;
    return v > 0 ? v : (v != v ? v : vf{});  // relu(a + b), NaN kept as tfjs' relu does
  } else if constexpr (OP == BIN_RELU_GRAD) {
    vf step = b > 0 ? splat(1.f) : (b != b ? b : vf{});  // tfjs: dy * step(x), NaN-preserving
    return a * step;
  } else { vf d = a - b; return d * d; }
}
template <int OP>
static inline float binary_scalar(float a, float b) {
  if constexpr (OP == BIN_ADD) return a + b;
  else if constexpr (OP == BIN_SUB) return a - b;
  else if constexpr (OP == BIN_MUL) return a * b;
  else if constexpr (OP == BIN_DIV) return a / b;
  else if constexpr (OP == BIN_MAX) return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
  else if constexpr (OP == BIN_MIN) return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
  else if constexpr (OP == BIN_RELU_GRAD) return a * (b > 0 ? 1.f : (b != b ? b : 0.f));
  else if constexpr (OP == BIN_SQUARE_GRAD) return a * (b + b);
  else if constexpr (OP == BIN_ADD_RELU) { float v = a + b; return v > 0 ? v : (v != v ? v : 0.f); }
  else { float d = a - b; return d * d; }
}

template <int OP, bool A_RUN, bool B_RUN>
static void binary_row(const float* a, const float* b, float* out, long length) {
  long i = 0;
  if constexpr (OP == BIN_MAX || OP == BIN_MIN) {
    // tfjs propagates NaN through maximum/minimum; the vector compare would drop it.
    for (; i < length; i++) out[i] = binary_scalar<OP>(A_RUN ? a[i] : a[0], B_RUN ? b[i] : b[0]);
    return;
  }
  vf a_splat = splat(a[0]), b_splat = splat(b[0]);
  for (; i + VW <= length; i += VW) {
    vf va = A_RUN ? load(a + i) : a_splat;
    vf vb = B_RUN ? load(b + i) : b_splat;
    store(out + i, binary_vector<OP>(va, vb));
  }
  for (; i < length; i++) out[i] = binary_scalar<OP>(A_RUN ? a[i] : a[0], B_RUN ? b[i] : b[0]);
}

template <int OP, bool A_RUN, bool B_RUN>
static void binary_rows(const BinaryArgs& p, long r0, long r1) {
  // Row offsets advance incrementally: no divisions per (possibly short) row.
  long a_count = r0 % p.a_row_div, a_index = (r0 / p.a_row_div) % p.a_row_mod;
  long b_count = r0 % p.b_row_div, b_index = (r0 / p.b_row_div) % p.b_row_mod;
  for (long r = r0; r < r1; r++) {
    long start = r * p.row_length, length = std::min(p.row_length, p.total - start);
    binary_row<OP, A_RUN, B_RUN>(p.a + a_index * p.a_row_stride, p.b + b_index * p.b_row_stride, p.out + start, length);
    if (++a_count == p.a_row_div) {
      a_count = 0;
      if (++a_index == p.a_row_mod) a_index = 0;
    }
    if (++b_count == p.b_row_div) {
      b_count = 0;
      if (++b_index == p.b_row_mod) b_index = 0;
    }
  }
}

template <int OP>
static void binary_op(const BinaryArgs& p) {
  const long rows = (p.total + p.row_length - 1) / p.row_length;
  const long rows_per_task = std::max<long>(1, 32768 / std::max<long>(p.row_length, 1));
  const long tasks = (rows + rows_per_task - 1) / rows_per_task;
  auto body = [&](long task, int) {
    long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    if (p.a_run && p.b_run) binary_rows<OP, true, true>(p, r0, r1);
    else if (p.a_run) binary_rows<OP, true, false>(p, r0, r1);
    else if (p.b_run) binary_rows<OP, false, true>(p, r0, r1);
    else binary_rows<OP, false, false>(p, r0, r1);
  };
  if (p.total < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
}

static void binary(int op, const BinaryArgs& p) {
  switch (op) {
    case BIN_ADD: binary_op<BIN_ADD>(p); break;
    case BIN_SUB: binary_op<BIN_SUB>(p); break;
    case BIN_MUL: binary_op<BIN_MUL>(p); break;
    case BIN_DIV: binary_op<BIN_DIV>(p); break;
    case BIN_MAX: binary_op<BIN_MAX>(p); break;
    case BIN_MIN: binary_op<BIN_MIN>(p); break;
    case BIN_RELU_GRAD: binary_op<BIN_RELU_GRAD>(p); break;
    case BIN_SQUARE_GRAD: binary_op<BIN_SQUARE_GRAD>(p); break;
    case BIN_ADD_RELU: binary_op<BIN_ADD_RELU>(p); break;
    default: binary_op<BIN_SQUARED_DIFFERENCE>(p); break;
  }
}

template <int OP>
static void unary_range(const float* x, float* y, long n, float alpha) {
  long i = 0;
  if constexpr (OP == UN_RELU || OP == UN_SQUARE || OP == UN_NEG || OP == UN_ABS || OP == UN_SQRT ||
                OP == UN_RSQRT) {
    for (; i + VW <= n; i += VW) {
      vf v = load(x + i);
      if constexpr (OP == UN_RELU) v = v > 0 ? v : (v != v ? v : vf{});  // keep NaN as tfjs does
      else if constexpr (OP == UN_SQUARE) v = v * v;
      else if constexpr (OP == UN_NEG) v = -v;
      else if constexpr (OP == UN_ABS) v = v < 0 ? -v : v;
      else if constexpr (OP == UN_SQRT) {
        for (int l = 0; l < VW; l++) v[l] = std::sqrt(v[l]);
      } else {
        for (int l = 0; l < VW; l++) v[l] = 1.f / std::sqrt(v[l]);
      }
      store(y + i, v);
    }
  }
  for (; i < n; i++) {
    float v = x[i];
    if constexpr (OP == UN_RELU) y[i] = v > 0 ? v : (v != v ? v : 0.f);
    else if constexpr (OP == UN_SQUARE) y[i] = v * v;
    else if constexpr (OP == UN_NEG) y[i] = -v;
    else if constexpr (OP == UN_ABS) y[i] = std::fabs(v);
    else if constexpr (OP == UN_SQRT) y[i] = std::sqrt(v);
    else if constexpr (OP == UN_RSQRT) y[i] = 1.f / std::sqrt(v);
    else if constexpr (OP == UN_EXP) y[i] = std::exp(v);
    else if constexpr (OP == UN_LOG) y[i] = std::log(v);
    else if constexpr (OP == UN_STEP) y[i] = v != v ? NAN : (v > 0.f ? 1.f : alpha);
    else if constexpr (OP == UN_SIGMOID) y[i] = 1.f / (1.f + std::exp(-v));
  }
}

template <int OP>
static void unary_op(const float* x, float* y, long n, float alpha) {
  const long chunk = 16384;
  if (n < 65536) return unary_range<OP>(x, y, n, alpha);
  parallel_for((n + chunk - 1) / chunk, [&](long task, int) {
    long start = task * chunk;
    unary_range<OP>(x + start, y + start, std::min(chunk, n - start), alpha);
  });
}

static void unary(int op, const float* x, float* y, long n, float alpha) {
  switch (op) {
    case UN_RELU: unary_op<UN_RELU>(x, y, n, alpha); break;
    case UN_SQUARE: unary_op<UN_SQUARE>(x, y, n, alpha); break;
    case UN_NEG: unary_op<UN_NEG>(x, y, n, alpha); break;
    case UN_ABS: unary_op<UN_ABS>(x, y, n, alpha); break;
    case UN_SQRT: unary_op<UN_SQRT>(x, y, n, alpha); break;
    case UN_RSQRT: unary_op<UN_RSQRT>(x, y, n, alpha); break;
    case UN_EXP: unary_op<UN_EXP>(x, y, n, alpha); break;
    case UN_LOG: unary_op<UN_LOG>(x, y, n, alpha); break;
    case UN_STEP: unary_op<UN_STEP>(x, y, n, alpha); break;
    default: unary_op<UN_SIGMOID>(x, y, n, alpha); break;
  }
}

// ---------------------------------------------------------------------------------------------
// Reductions over the middle axis of a [outer, reduce, inner] view. Partial results are
// accumulated in double per chunk of the reduced axis, so long reductions (N*H*W per channel)
// stay accurate; chunks are work items.

static void reduce(int op, const float* x, long outer, long reduce_size, long inner, float* out) {
  const bool is_max = op == RED_MAX, is_min = op == RED_MIN;
  const long chunk = inner == 1 ? 8192 : std::max<long>(16, 65536 / inner);
  const long chunks = std::max<long>(1, (reduce_size + chunk - 1) / chunk);
  std::vector<double> partial((size_t)outer * chunks * inner);
  auto body = [&](long task, int) {
    long o = task / chunks, c = task % chunks;
    long r0 = c * chunk, r1 = std::min(reduce_size, r0 + chunk);
    double* dst = &partial[(o * chunks + c) * inner];
    const float* base = x + o * reduce_size * inner;
    if (inner == 1) {
      const float* row = base;
      if (is_max || is_min) {
        float m = r1 > r0 ? row[r0] : (is_max ? -INFINITY : INFINITY);
        for (long r = r0; r < r1; r++) {
          float v = row[r];
          if (v != v) { m = v; break; }
          m = is_max ? (v > m ? v : m) : (v < m ? v : m);
        }
        dst[0] = m;
      } else {
        vf acc = vf{};
        long r = r0;
        for (; r + VW <= r1; r += VW) acc += load(row + r);
        double total = 0;
        for (int l = 0; l < VW; l++) total += acc[l];
        for (; r < r1; r++) total += row[r];
        dst[0] = total;
      }
      return;
    }
    static thread_local std::vector<float> acc;
    acc.assign(inner, is_max ? -INFINITY : (is_min ? INFINITY : 0.f));
    for (long r = r0; r < r1; r++) {
      const float* row = base + r * inner;
      if (is_max || is_min) {
        for (long i = 0; i < inner; i++) {
          float v = row[i], m = acc[i];
          acc[i] = (v != v || m != m) ? NAN : (is_max ? (v > m ? v : m) : (v < m ? v : m));
        }
      } else {
        long i = 0;
        for (; i + VW <= inner; i += VW) store(&acc[i], load(&acc[i]) + load(row + i));
        for (; i < inner; i++) acc[i] += row[i];
      }
    }
    for (long i = 0; i < inner; i++) dst[i] = acc[i];
  };
  const long tasks = outer * chunks;
  if ((long)outer * reduce_size * inner < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
  for (long o = 0; o < outer; o++)
    for (long i = 0; i < inner; i++) {
      double v = partial[(o * chunks) * inner + i];
      for (long c = 1; c < chunks; c++) {
        double w = partial[(o * chunks + c) * inner + i];
        if (is_max) v = (v != v || w != w) ? NAN : (w > v ? w : v);
        else if (is_min) v = (v != v || w != w) ? NAN : (w < v ? w : v);
        else v += w;
      }
      if (op == RED_MEAN) v /= (double)reduce_size;
      out[o * inner + i] = (float)v;
    }
}

// ---------------------------------------------------------------------------------------------
// Batch normalisation: inference (FusedBatchNorm, LongtailBatchNormInference), tfjs' FusedBatchNorm gradient
// sums, and training mode forward and backward in one call each (LongtailBatchNormTraining / ...Grad).
// x, y, dy, dx are [rows, channels]; everything is built from the two helpers below.

// Per-channel sums over row blocks: float vectors within a short run of rows (kRowsPerFloatRun), double across runs
// and blocks, so the rounding error stays at a few float ulps whatever the row count (a float sum over thousands of
// rows loses ~1e-5 relative, enough to move a batch-norm output by 1e-5 and flip ReLU masks near zero).
// `term(row, c0)` returns the vector of values to add for channels [c0, c0 + VW) of that row
// (and `scalar_term(row, c)` one value), so one routine serves every per-channel sum.
static constexpr long kRowsPerFloatRun = 16;
template <typename VectorTerm, typename ScalarTerm>
static void channel_sums(long rows, long channels, int outputs, double* sums, VectorTerm term, ScalarTerm scalar_term) {
  const long rows_per_task = std::max<long>(16, 32768 / channels);
  const long tasks = (rows + rows_per_task - 1) / rows_per_task;
  std::vector<double> partial((size_t)tasks * outputs * channels, 0.0);
  auto body = [&](long task, int) {
    long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    static thread_local std::vector<float> acc;
    double* dst = &partial[(size_t)task * outputs * channels];
    for (long run = r0; run < r1; run += kRowsPerFloatRun) {
      const long run_end = std::min(r1, run + kRowsPerFloatRun);
      acc.assign((size_t)outputs * channels, 0.f);
      for (long r = run; r < run_end; r++) {
        long c = 0;
        for (; c + VW <= channels; c += VW) {
          vf values[2] = {vf{}, vf{}};
          term(r, c, values);
          for (int o = 0; o < outputs; o++) store(&acc[o * channels + c], load(&acc[o * channels + c]) + values[o]);
        }
        for (; c < channels; c++) {
          float values[2] = {0.f, 0.f};
          scalar_term(r, c, values);
          for (int o = 0; o < outputs; o++) acc[o * channels + c] += values[o];
        }
      }
      for (long i = 0; i < outputs * channels; i++) dst[i] += acc[i];
    }
  };
  if (rows * channels < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
  for (long i = 0; i < outputs * channels; i++) sums[i] = 0;
  for (long t = 0; t < tasks; t++)
    for (long i = 0; i < outputs * channels; i++) sums[i] += partial[(size_t)t * outputs * channels + i];
}

// One row range of channel_affine, specialised on which operands exist so that the per-row work is a tight loop
// (the 16-channel layers have only two vectors per row: the generic loop's pointer tests cost as much as the math).
// `center` is never null here (zeros when the caller has none); it centres u when there is no v, else v.
template <bool MASK, bool V, bool RELU>
static void channel_affine_rows(long r0, long r1, long channels, const float* __restrict u, const float* __restrict mask,
                                const float* __restrict v, const float* __restrict a, const float* __restrict b,
                                const float* __restrict d, const float* __restrict center, float* __restrict out) {
  const long vector_end = channels / VW * VW;
  for (long r = r0; r < r1; r++) {
    const float* ur = u + r * channels;
    const float* mr = MASK ? mask + r * channels : nullptr;
    const float* vr = V ? v + r * channels : nullptr;
    float* o = out + r * channels;
    for (long c = 0; c < vector_end; c += VW) {
      vf x = load(ur + c);
      if constexpr (!V) x -= load(center + c);
      if constexpr (MASK) x = load(mr + c) > 0 ? x : vf{};
      vf value = load(a + c) * x + load(d + c);
      if constexpr (V) value += load(b + c) * (load(vr + c) - load(center + c));
      if constexpr (RELU) value = vmax(value, vf{});
      store(o + c, value);
    }
    for (long c = vector_end; c < channels; c++) {
      float x = ur[c];
      if constexpr (!V) x -= center[c];
      if constexpr (MASK) x = mr[c] > 0 ? x : 0.f;
      float value = a[c] * x + d[c];
      if constexpr (V) value += b[c] * (vr[c] - center[c]);
      if constexpr (RELU) value = value > 0.f ? value : 0.f;
      o[c] = value;
    }
  }
}

// out[r][c] = relu?(a[c] * u[r][c] + b[c] * (v[r][c] - center[c]) + d[c]) over [rows, channels]; v may be null
// (then b is not read and may be null too), center may be null (0). With `mask`, rows where mask <= 0 give 0 for the
// u term (the ReLU gradient). With `center_u`, the u term is a[c] * (u[r][c] - center[c]) instead (v must be null).
// Centring before scaling matters: a[c] * x + (d[c] - a[c] * mean[c]) cancels catastrophically when |mean| >> std
// (an absolute error of ~eps * |a * mean| instead of ~eps * |d|), which flips ReLU masks near zero.
static void channel_affine(long rows, long channels, const float* u, const float* mask, const float* v,
                           const float* a, const float* b, const float* d, bool relu, float* out,
                           const float* center = nullptr, bool center_u = false) {
  const long rows_per_task = std::max<long>(1, 16384 / channels);
  const long tasks = (rows + rows_per_task - 1) / rows_per_task;
  // The specialised rows always subtract a centre (from u without v, else from v): zeros stand in for a missing one
  // (x - 0 is exactly x, -0 and NaN included).
  const float* centre = (v != nullptr) != center_u ? center : nullptr;
  std::vector<float> zeros;
  if (centre == nullptr) {
    zeros.assign((size_t)channels, 0.f);
    centre = zeros.data();
  }
  typedef void (*Rows)(long, long, long, const float*, const float*, const float*, const float*, const float*,
                       const float*, const float*, float*);
  static const Rows variants[2][2][2] = {
      {{channel_affine_rows<false, false, false>, channel_affine_rows<false, false, true>},
       {channel_affine_rows<false, true, false>, channel_affine_rows<false, true, true>}},
      {{channel_affine_rows<true, false, false>, channel_affine_rows<true, false, true>},
       {channel_affine_rows<true, true, false>, channel_affine_rows<true, true, true>}}};
  const Rows rows_function = variants[mask != nullptr][v != nullptr][relu];
  auto body = [&](long task, int) {
    const long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    rows_function(r0, r1, channels, u, mask, v, a, b, d, centre, out);
  };
  if (rows * channels < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
}

// Inference (FusedBatchNorm, LongtailBatchNormInference): y = relu?(x * scale' + offset') per channel (last axis),
// scale' = scale / sqrt(var + eps), offset' = offset - mean * scale'. Parameters have `channels` entries or one.
static void batch_norm(const float* x, long total, long channels, const float* mean, long mean_size,
                       const float* variance, long variance_size, const float* offset, long offset_size,
                       const float* scale, long scale_size, float epsilon, bool relu, float* y) {
  std::vector<float> mul(channels), add(channels);
  for (long c = 0; c < channels; c++) {
    float m = mean[mean_size == 1 ? 0 : c], v = variance[variance_size == 1 ? 0 : c];
    float g = scale ? scale[scale_size == 1 ? 0 : c] : 1.f;
    float b = offset ? offset[offset_size == 1 ? 0 : c] : 0.f;
    float inv = 1.f / std::sqrt(v + epsilon);
    mul[c] = g * inv;
    add[c] = b - m * g * inv;
  }
  channel_affine(total / channels, channels, x, nullptr, nullptr, mul.data(), nullptr, add.data(), relu, y);
}

// Per-channel sums for tfjs' FusedBatchNorm gradient in one pass over x and dy ([rows, channels]):
// sum_dy[c] = sum dy, sum_dy_centered[c] = sum dy * (x - mean[c]).
static void batch_norm_sums(const float* x, const float* dy, const float* mean, long rows, long channels,
                            double* sum_dy, double* sum_dy_centered) {
  std::vector<double> sums(2 * channels);
  channel_sums(rows, channels, 2, sums.data(),
               [&](long r, long c, vf* out) {
                 vf g = load(dy + r * channels + c);
                 out[0] = g;
                 out[1] = g * (load(x + r * channels + c) - load(mean + c));
               },
               [&](long r, long c, float* out) {
                 float g = dy[r * channels + c];
                 out[0] = g;
                 out[1] = g * (x[r * channels + c] - mean[c]);
               });
  std::copy(sums.begin(), sums.begin() + channels, sum_dy);
  std::copy(sums.begin() + channels, sums.end(), sum_dy_centered);
}

// mean, biased variance and y = relu?((x - mean) / sqrt(var + eps) * gamma + beta). The moments come from one pass
// over x in runs of kRowsPerFloatRun rows: each run's sum and its centred sum of squares (a second look at rows still
// in L1), in float, merged into double (n, mean, M2) per channel with Chan's update, runs in order within a block and
// blocks in order; so the variance keeps its precision whatever the row count and |mean| / std. Then y is written
// from the centred x.
static void batch_norm_training(const float* x, long rows, long channels, const float* gamma, const float* beta,
                                float epsilon, bool relu, float* y, float* mean, float* variance) {
  const long rows_per_task = std::max<long>(16, 32768 / channels);
  const long tasks = (rows + rows_per_task - 1) / rows_per_task;
  // per task: mean and M2 per channel (double); the count is the task's row count.
  std::vector<double> task_mean((size_t)tasks * channels, 0.0), task_m2((size_t)tasks * channels, 0.0);
  auto body = [&](long task, int) {
    const long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    static thread_local std::vector<float> run_sum, run_m2;
    run_sum.resize(channels);
    run_m2.resize(channels);
    double* block_mean = &task_mean[(size_t)task * channels];
    double* block_m2 = &task_m2[(size_t)task * channels];
    long count = 0;
    for (long run = r0; run < r1; run += kRowsPerFloatRun) {
      const long run_end = std::min(r1, run + kRowsPerFloatRun);
      const long n = run_end - run;
      const float inverse_n = 1.f / (float)n;
      long c = 0;
      for (; c + VW <= channels; c += VW) {
        vf sum{};
        for (long r = run; r < run_end; r++) sum += load(x + r * channels + c);
        vf run_mean = sum * inverse_n;
        vf m2{};
        for (long r = run; r < run_end; r++) {
          vf d = load(x + r * channels + c) - run_mean;
          m2 += d * d;
        }
        store(&run_sum[c], run_mean);
        store(&run_m2[c], m2);
      }
      for (; c < channels; c++) {
        float sum = 0.f;
        for (long r = run; r < run_end; r++) sum += x[r * channels + c];
        float run_mean = sum * inverse_n;
        float m2 = 0.f;
        for (long r = run; r < run_end; r++) {
          float d = x[r * channels + c] - run_mean;
          m2 += d * d;
        }
        run_sum[c] = run_mean;
        run_m2[c] = m2;
      }
      // Chan's weights n / (count + n) and count * n / (count + n), once per run: two divisions per channel and run
      // cost as much as the pass over x itself at 16 channels.
      const double total = (double)(count + n), mean_weight = (double)n / total, m2_weight = (double)count * mean_weight;
      for (c = 0; c < channels; c++) {
        const double delta = (double)run_sum[c] - block_mean[c];
        block_mean[c] += delta * mean_weight;
        block_m2[c] += (double)run_m2[c] + delta * delta * m2_weight;
      }
      count += n;
    }
  };
  if (rows * channels < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
  for (long c = 0; c < channels; c++) {
    double m = 0, m2 = 0;
    long count = 0;
    for (long t = 0; t < tasks; t++) {
      const long n = std::min(rows, (t + 1) * rows_per_task) - t * rows_per_task;
      const double total = (double)(count + n);
      const double delta = task_mean[(size_t)t * channels + c] - m;
      m += delta * (double)n / total;
      m2 += task_m2[(size_t)t * channels + c] + delta * delta * (double)count * (double)n / total;
      count += n;
    }
    mean[c] = (float)m;
    variance[c] = (float)std::max(0.0, m2 / (double)rows);
  }
  std::vector<float> scale(channels), offset(channels);
  for (long c = 0; c < channels; c++) {
    float inverse = 1.f / std::sqrt(variance[c] + epsilon);
    scale[c] = gamma[c] * inverse;
    offset[c] = beta[c];
  }
  // y = (x - mean) * scale + beta, centred first (as PyTorch): see channel_affine.
  channel_affine(rows, channels, x, nullptr, nullptr, scale.data(), nullptr, offset.data(), relu, y, mean, true);
}

// Gradients of batch_norm_training: with g = dy (or dy * [y > 0] when `y` is given, the fused ReLU),
// n = rows, r = 1/sqrt(var + eps), S1 = sum g, S2 = sum g (x - mean):
//   dgamma = r S2,  dbeta = S1,  dx = gamma r (g - S1/n - (x - mean) r^2 S2/n).
static void batch_norm_training_grad(const float* dy, const float* x, const float* y, long rows, long channels,
                                     const float* gamma, const float* mean, const float* variance, float epsilon,
                                     float* dx, float* dgamma, float* dbeta) {
  std::vector<double> sums(2 * channels);
  channel_sums(rows, channels, 2, sums.data(),
               [&](long r, long c, vf* out) {
                 vf g = load(dy + r * channels + c);
                 if (y) g = load(y + r * channels + c) > 0 ? g : vf{};
                 out[0] = g;
                 out[1] = g * (load(x + r * channels + c) - load(mean + c));
               },
               [&](long r, long c, float* out) {
                 float g = dy[r * channels + c];
                 if (y && !(y[r * channels + c] > 0)) g = 0.f;
                 out[0] = g;
                 out[1] = g * (x[r * channels + c] - mean[c]);
               });
  std::vector<float> a(channels), b(channels), d(channels);
  const double n = (double)rows;
  for (long c = 0; c < channels; c++) {
    double inverse = 1.0 / std::sqrt((double)(variance[c] + epsilon));
    double s1 = sums[c], s2 = sums[channels + c];
    dgamma[c] = (float)(inverse * s2);
    dbeta[c] = (float)s1;
    double gr = gamma[c] * inverse;
    double slope = -gr * inverse * inverse * s2 / n;  // coefficient of x
    a[c] = (float)gr;
    b[c] = (float)slope;
    d[c] = (float)(-gr * s1 / n);
  }
  // dx = a g + b (x - mean) + d, centred first: see channel_affine.
  channel_affine(rows, channels, dy, y, x, a.data(), b.data(), d.data(), false, dx, mean);
}

}  // namespace LT_NS
