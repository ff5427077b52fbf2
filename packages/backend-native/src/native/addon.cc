// @longtail/backend-native: float32 NHWC kernels for TensorFlow.js, exposed through Node-API.
// The arithmetic kernels (kernels.inl) are compiled once per SIMD level, each in its own translation unit
// (kernels_avx512.cc, kernels_avx2.cc, kernels_scalar.cc, built in parallel), and one level is chosen at load time
// with __builtin_cpu_supports. All typed arrays are used in place (no copies across the JS boundary).
#include "common.h"

namespace longtail {

static int detected_level() {  // 2 = avx512, 1 = avx2, 0 = scalar
#ifdef LT_HAVE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma"))
    return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
  return 0;
}

static int active_level = -1;
static const KernelTable* table() {
  if (active_level < 0) active_level = detected_level();
#ifdef LT_HAVE_X86
  if (active_level == 2) return &avx512_table;
  if (active_level == 1) return &avx2_table;
#endif
  return &scalar_table;
}

// Layout-only kernels (no arithmetic, memory bound): one version.

// out = transpose(x, perm) for rank <= 8.
static void transpose(const float* x, const long* shape, const int* perm, int rank, float* out) {
  long in_strides[8], out_shape[8], src_strides[8];
  in_strides[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) in_strides[d] = in_strides[d + 1] * shape[d + 1];
  long total = 1;
  for (int d = 0; d < rank; d++) {
    out_shape[d] = shape[perm[d]];
    src_strides[d] = in_strides[perm[d]];
    total *= out_shape[d];
  }
  if (total == 0) return;
  const long inner = out_shape[rank - 1], inner_stride = src_strides[rank - 1];
  const long rows = total / inner;
  const long rows_per_task = std::max<long>(1, 16384 / inner);
  auto body = [&](long task, int) {
    long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    long index[8] = {0};
    long rest = r0;
    for (int d = rank - 2; d >= 0; d--) index[d] = rest % out_shape[d], rest /= out_shape[d];
    for (long r = r0; r < r1; r++) {
      long offset = 0;
      for (int d = 0; d < rank - 1; d++) offset += index[d] * src_strides[d];
      float* dst = out + r * inner;
      const float* src = x + offset;
      if (inner_stride == 1) std::memcpy(dst, src, sizeof(float) * inner);
      else
        for (long i = 0; i < inner; i++) dst[i] = src[i * inner_stride];
      for (int d = rank - 2; d >= 0; d--) {
        if (++index[d] < out_shape[d]) break;
        index[d] = 0;
      }
    }
  };
  long tasks = (rows + rows_per_task - 1) / rows_per_task;
  if (total < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
}

// out = tile(x, reps) for rank <= 8, element size in bytes (4 for float32/int32).
static void tile(const uint8_t* x, const long* shape, const long* reps, int rank, int element_size, uint8_t* out) {
  long out_shape[8], in_strides[8];
  in_strides[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) in_strides[d] = in_strides[d + 1] * shape[d + 1];
  long total = 1;
  for (int d = 0; d < rank; d++) out_shape[d] = shape[d] * reps[d], total *= out_shape[d];
  if (total == 0) return;
  const long inner = out_shape[rank - 1], in_inner = shape[rank - 1];
  const long rows = total / inner;
  const long rows_per_task = std::max<long>(1, 16384 / inner);
  auto body = [&](long task, int) {
    long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    for (long r = r0; r < r1; r++) {
      long rest = r, offset = 0;
      for (int d = rank - 2; d >= 0; d--) {
        long i = rest % out_shape[d];
        rest /= out_shape[d];
        offset += (i % shape[d]) * in_strides[d];
      }
      uint8_t* dst = out + r * inner * element_size;
      const uint8_t* src = x + offset * element_size;
      if (in_inner == 1) {
        if (element_size == 4) {
          uint32_t v;
          std::memcpy(&v, src, 4);
          uint32_t* d32 = reinterpret_cast<uint32_t*>(dst);
          for (long i = 0; i < inner; i++) d32[i] = v;
        } else {
          for (long i = 0; i < inner; i++) std::memcpy(dst + i * element_size, src, element_size);
        }
      } else {
        for (long k = 0; k < reps[rank - 1]; k++) std::memcpy(dst + k * in_inner * element_size, src, in_inner * element_size);
      }
    }
  };
  long tasks = (rows + rows_per_task - 1) / rows_per_task;
  if (total < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
}

// Copies a box of `size` 4-byte elements from src (starting at src_begin, stepping src_step per
// axis) to dst (dst_begin, dst_step). Slice, Pad and strided 1x1 pooling (and its gradient) are all
// instances of this.
static void copy_box(const uint32_t* src, const long* src_shape, const long* src_begin, const long* src_step,
                     uint32_t* dst, const long* dst_shape, const long* dst_begin, const long* dst_step,
                     const long* size, int rank) {
  long src_strides[8], dst_strides[8];
  src_strides[rank - 1] = dst_strides[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) {
    src_strides[d] = src_strides[d + 1] * src_shape[d + 1];
    dst_strides[d] = dst_strides[d + 1] * dst_shape[d + 1];
  }
  long src_base = 0, dst_base = 0, rows = 1;
  for (int d = 0; d < rank; d++) {
    src_base += src_begin[d] * src_strides[d];
    dst_base += dst_begin[d] * dst_strides[d];
    if (d < rank - 1) rows *= size[d];
    if (size[d] == 0) return;
  }
  const long inner = size[rank - 1];
  const long src_inner_step = src_step[rank - 1], dst_inner_step = dst_step[rank - 1];
  const long rows_per_task = std::max<long>(1, 16384 / inner);
  auto body = [&](long task, int) {
    long r0 = task * rows_per_task, r1 = std::min(rows, r0 + rows_per_task);
    for (long r = r0; r < r1; r++) {
      long rest = r, so = src_base, doff = dst_base;
      for (int d = rank - 2; d >= 0; d--) {
        long i = rest % size[d];
        rest /= size[d];
        so += i * src_step[d] * src_strides[d];
        doff += i * dst_step[d] * dst_strides[d];
      }
      if (src_inner_step == 1 && dst_inner_step == 1) std::memcpy(dst + doff, src + so, sizeof(uint32_t) * inner);
      else
        for (long i = 0; i < inner; i++) dst[doff + i * dst_inner_step] = src[so + i * src_inner_step];
    }
  };
  long tasks = (rows + rows_per_task - 1) / rows_per_task;
  if (rows * inner < 65536) for (long t = 0; t < tasks; t++) body(t, 0);
  else parallel_for(tasks, body);
}

// ---------------------------------------------------------------------------------------------
// Node-API glue.

#define NAPI_CALL(env, call)                                        \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error((env), nullptr, "longtail native: " #call);  \
      return nullptr;                                               \
    }                                                               \
  } while (0)

struct Arguments {
  napi_env env;
  size_t count = 16;
  napi_value values[16];
  bool failed = false;

  Arguments(napi_env environment, napi_callback_info info, size_t expected) : env(environment) {
    if (napi_get_cb_info(env, info, &count, values, nullptr, nullptr) != napi_ok || count < expected) {
      napi_throw_type_error(env, nullptr, "longtail native: wrong number of arguments");
      failed = true;
    }
  }

  // Float32Array / Int32Array / Uint8Array data pointer (already offset) and element count.
  void* array(size_t index, size_t* length = nullptr, napi_typedarray_type* type_out = nullptr) {
    if (failed) return nullptr;
    bool is_typed = false;
    napi_is_typedarray(env, values[index], &is_typed);
    if (!is_typed) {
      napi_valuetype type;
      napi_typeof(env, values[index], &type);
      if (type == napi_null || type == napi_undefined) return nullptr;
      napi_throw_type_error(env, nullptr, ("longtail native: argument " + std::to_string(index) + " must be a typed array").c_str());
      failed = true;
      return nullptr;
    }
    napi_typedarray_type type;
    size_t elements;
    void* data;
    napi_value buffer;
    size_t offset;
    napi_get_typedarray_info(env, values[index], &type, &elements, &data, &buffer, &offset);
    if (length) *length = elements;
    if (type_out) *type_out = type;
    return data;
  }
  float* floats(size_t index, size_t* length = nullptr) { return static_cast<float*>(array(index, length)); }
  double number(size_t index) {
    double v = 0;
    if (!failed && napi_get_value_double(env, values[index], &v) != napi_ok) {
      napi_throw_type_error(env, nullptr, ("longtail native: argument " + std::to_string(index) + " must be a number").c_str());
      failed = true;
    }
    return v;
  }
  long integer(size_t index) { return (long)number(index); }
};

static napi_value undefined_value(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

// conv2d(x, filter, bias|null, out, shape Int32Array[15], relu)
static bool read_conv_shape(Arguments& args, size_t index, ConvShape* shape) {
  size_t length = 0;
  napi_typedarray_type type;
  int32_t* p = static_cast<int32_t*>(args.array(index, &length, &type));
  if (!p || type != napi_int32_array || length < 15) {
    if (!args.failed) napi_throw_type_error(args.env, nullptr, "longtail native: conv shape must be an Int32Array(15)");
    args.failed = true;
    return false;
  }
  *shape = ConvShape{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]};
  return true;
}

static napi_value Conv2D(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 6);
  ConvShape s;
  float *x = args.floats(0), *filter = args.floats(1), *bias = args.floats(2), *out = args.floats(3);
  if (!read_conv_shape(args, 4, &s)) return nullptr;
  bool relu = args.number(5) != 0;
  if (args.failed) return nullptr;
  table()->conv2d(s, x, filter, bias, relu, out);
  return undefined_value(env);
}

static napi_value Conv2DBackpropInput(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 4);
  ConvShape s;
  float *dy = args.floats(0), *filter = args.floats(1), *dx = args.floats(2);
  if (!read_conv_shape(args, 3, &s) || args.failed) return nullptr;
  table()->conv2d_backprop_input(s, dy, filter, dx);
  return undefined_value(env);
}

static napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 4);
  ConvShape s;
  float *x = args.floats(0), *dy = args.floats(1), *dw = args.floats(2);
  if (!read_conv_shape(args, 3, &s) || args.failed) return nullptr;
  table()->conv2d_backprop_filter(s, x, dy, dw);
  return undefined_value(env);
}

// batchMatMul(a, b, bias|null, out, batch, M, N, K, aBatchStride, bBatchStride, transposeA, transposeB, relu)
static napi_value BatchMatMul(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 13);
  float *a = args.floats(0), *b = args.floats(1), *bias = args.floats(2), *out = args.floats(3);
  long batch = args.integer(4), M = args.integer(5), N = args.integer(6), K = args.integer(7);
  long a_stride = args.integer(8), b_stride = args.integer(9);
  bool ta = args.number(10) != 0, tb = args.number(11) != 0, relu = args.number(12) != 0;
  if (args.failed) return nullptr;
  table()->batch_matmul(batch, M, N, K, a, a_stride, ta, b, b_stride, tb, bias, relu, out);
  return undefined_value(env);
}

// binary(op, a, b, out, total, rowLength, aRowStride, aRowMod, aRun, bRowStride, bRowMod, bRun, aRowDiv, bRowDiv)
static napi_value Binary(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 14);
  int op = (int)args.integer(0);
  BinaryArgs p;
  p.a = args.floats(1);
  p.b = args.floats(2);
  p.out = args.floats(3);
  p.total = args.integer(4);
  p.row_length = std::max<long>(1, args.integer(5));
  p.a_row_stride = args.integer(6);
  p.a_row_mod = std::max<long>(1, args.integer(7));
  p.a_run = args.number(8) != 0;
  p.b_row_stride = args.integer(9);
  p.b_row_mod = std::max<long>(1, args.integer(10));
  p.b_run = args.number(11) != 0;
  p.a_row_div = std::max<long>(1, args.integer(12));
  p.b_row_div = std::max<long>(1, args.integer(13));
  if (args.failed) return nullptr;
  table()->binary(op, p);
  return undefined_value(env);
}

// unary(op, x, out, alpha)
static napi_value Unary(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 4);
  int op = (int)args.integer(0);
  size_t n = 0;
  float* x = args.floats(1, &n);
  float* out = args.floats(2);
  float alpha = (float)args.number(3);
  if (args.failed) return nullptr;
  table()->unary(op, x, out, (long)n, alpha);
  return undefined_value(env);
}

// reduce(op, x, out, outer, reduceSize, inner)
static napi_value Reduce(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 6);
  int op = (int)args.integer(0);
  float *x = args.floats(1), *out = args.floats(2);
  long outer = args.integer(3), reduce_size = args.integer(4), inner = args.integer(5);
  if (args.failed) return nullptr;
  table()->reduce(op, x, outer, reduce_size, inner, out);
  return undefined_value(env);
}

// batchNorm(x, mean, variance, offset|null, scale|null, epsilon, channels, out)
// batchNorm(x, mean, variance, offset|null, scale|null, epsilon, channels, out, relu?)
static napi_value BatchNorm(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 8);
  size_t total = 0, mean_size = 0, variance_size = 0, offset_size = 0, scale_size = 0;
  float* x = args.floats(0, &total);
  float* mean = args.floats(1, &mean_size);
  float* variance = args.floats(2, &variance_size);
  float* offset = args.floats(3, &offset_size);
  float* scale = args.floats(4, &scale_size);
  float epsilon = (float)args.number(5);
  long channels = args.integer(6);
  float* out = args.floats(7);
  bool relu = args.count > 8 && args.number(8) != 0;  // optional: relu(batch norm) in the same pass
  if (args.failed) return nullptr;
  table()->batch_norm(x, (long)total, channels, mean, (long)mean_size, variance, (long)variance_size, offset,
                      (long)offset_size, scale, (long)scale_size, epsilon, relu, out);
  return undefined_value(env);
}

static bool read_longs(Arguments& args, size_t index, long* out, int count) {
  size_t length = 0;
  napi_typedarray_type type;
  int32_t* p = static_cast<int32_t*>(args.array(index, &length, &type));
  if (!p || type != napi_int32_array || (int)length < count) {
    if (!args.failed) napi_throw_type_error(args.env, nullptr, "longtail native: expected an Int32Array");
    args.failed = true;
    return false;
  }
  for (int i = 0; i < count; i++) out[i] = p[i];
  return true;
}

// transpose(x, out, shape Int32Array, perm Int32Array)
static napi_value Transpose(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 4);
  float *x = args.floats(0), *out = args.floats(1);
  size_t rank = 0;
  napi_typedarray_type type;
  args.array(2, &rank, &type);
  if (args.failed || rank < 1 || rank > 8) {
    if (!args.failed) napi_throw_range_error(env, nullptr, "longtail native: transpose rank must be 1..8");
    return nullptr;
  }
  long shape[8], perm_long[8];
  int perm[8];
  if (!read_longs(args, 2, shape, (int)rank) || !read_longs(args, 3, perm_long, (int)rank)) return nullptr;
  for (size_t d = 0; d < rank; d++) perm[d] = (int)perm_long[d];
  transpose(x, shape, perm, (int)rank, out);
  return undefined_value(env);
}

// tile(x, out, shape Int32Array, reps Int32Array) for 4-byte elements
static napi_value Tile(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 4);
  auto* x = static_cast<uint8_t*>(args.array(0));
  auto* out = static_cast<uint8_t*>(args.array(1));
  size_t rank = 0;
  napi_typedarray_type type;
  args.array(2, &rank, &type);
  if (args.failed || rank < 1 || rank > 8) {
    if (!args.failed) napi_throw_range_error(env, nullptr, "longtail native: tile rank must be 1..8");
    return nullptr;
  }
  long shape[8], reps[8];
  if (!read_longs(args, 2, shape, (int)rank) || !read_longs(args, 3, reps, (int)rank)) return nullptr;
  tile(x, shape, reps, (int)rank, 4, out);
  return undefined_value(env);
}

// copyBox(src, dst, Int32Array[rank * 7]: srcShape, srcBegin, srcStep, dstShape, dstBegin, dstStep, size)
static napi_value CopyBox(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 3);
  auto* src = static_cast<uint32_t*>(args.array(0));
  auto* dst = static_cast<uint32_t*>(args.array(1));
  size_t length = 0;
  napi_typedarray_type type;
  args.array(2, &length, &type);
  if (args.failed || length % 7 != 0 || length / 7 < 1 || length / 7 > 8) {
    if (!args.failed) napi_throw_range_error(env, nullptr, "longtail native: copyBox rank must be 1..8");
    return nullptr;
  }
  int rank = (int)(length / 7);
  long p[56];
  if (!read_longs(args, 2, p, rank * 7)) return nullptr;
  copy_box(src, p, p + rank, p + 2 * rank, dst, p + 3 * rank, p + 4 * rank, p + 5 * rank, p + 6 * rank, rank);
  return undefined_value(env);
}

// batchNormSums(x, dy, mean, channels, sumDy Float64Array, sumDyCentered Float64Array)
static napi_value BatchNormSums(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 6);
  size_t total = 0;
  float* x = args.floats(0, &total);
  float* dy = args.floats(1);
  float* mean = args.floats(2);
  long channels = args.integer(3);
  auto* sum_dy = static_cast<double*>(args.array(4));
  auto* sum_dy_centered = static_cast<double*>(args.array(5));
  if (args.failed) return nullptr;
  if (channels < 1 || (long)total % channels != 0) {
    napi_throw_range_error(env, nullptr, "longtail native: batchNormSums channels must divide the size");
    return nullptr;
  }
  table()->batch_norm_sums(x, dy, mean, (long)total / channels, channels, sum_dy, sum_dy_centered);
  return undefined_value(env);
}

// batchNormTraining(x, gamma, beta, epsilon, channels, relu, y, mean, variance)
static napi_value BatchNormTraining(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 9);
  size_t total = 0, gamma_size = 0, beta_size = 0, y_size = 0, mean_size = 0, variance_size = 0;
  float* x = args.floats(0, &total);
  float* gamma = args.floats(1, &gamma_size);
  float* beta = args.floats(2, &beta_size);
  float epsilon = (float)args.number(3);
  long channels = args.integer(4);
  bool relu = args.number(5) != 0;
  float* y = args.floats(6, &y_size);
  float* mean = args.floats(7, &mean_size);
  float* variance = args.floats(8, &variance_size);
  if (args.failed) return nullptr;
  if (!x || !gamma || !beta || !y || !mean || !variance || channels < 1 || (long)total % channels != 0 ||
      (long)total < channels || y_size != total || (long)gamma_size != channels || (long)beta_size != channels ||
      (long)mean_size != channels || (long)variance_size != channels) {
    napi_throw_range_error(env, nullptr, "longtail native: batchNormTraining arrays do not match [rows, channels]");
    return nullptr;
  }
  table()->batch_norm_training(x, (long)total / channels, channels, gamma, beta, epsilon, relu, y, mean, variance);
  return undefined_value(env);
}

// batchNormTrainingGrad(dy, x, y|null, gamma, mean, variance, epsilon, channels, dx, dgamma, dbeta)
static napi_value BatchNormTrainingGrad(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 11);
  size_t total = 0, x_size = 0, y_size = 0, dx_size = 0, sizes[5] = {0, 0, 0, 0, 0};
  float* dy = args.floats(0, &total);
  float* x = args.floats(1, &x_size);
  float* y = args.floats(2, &y_size);
  float* gamma = args.floats(3, &sizes[0]);
  float* mean = args.floats(4, &sizes[1]);
  float* variance = args.floats(5, &sizes[2]);
  float epsilon = (float)args.number(6);
  long channels = args.integer(7);
  float* dx = args.floats(8, &dx_size);
  float* dgamma = args.floats(9, &sizes[3]);
  float* dbeta = args.floats(10, &sizes[4]);
  if (args.failed) return nullptr;
  bool ok = dy && x && gamma && mean && variance && dx && dgamma && dbeta && channels >= 1 &&
            (long)total % channels == 0 && (long)total >= channels && x_size == total && dx_size == total &&
            (!y || y_size == total);
  for (size_t size : sizes) ok = ok && (long)size == channels;
  if (!ok) {
    napi_throw_range_error(env, nullptr, "longtail native: batchNormTrainingGrad arrays do not match [rows, channels]");
    return nullptr;
  }
  table()->batch_norm_training_grad(dy, x, y, (long)total / channels, channels, gamma, mean, variance, epsilon, dx,
                                    dgamma, dbeta);
  return undefined_value(env);
}

static const char* level_name(int level) { return level == 2 ? "avx512" : level == 1 ? "avx2" : "scalar"; }

static napi_value make_string(napi_env env, const char* text) {
  napi_value v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value GetSimdLevel(napi_env env, napi_callback_info) {
  table();
  return make_string(env, level_name(active_level));
}
static napi_value GetDetectedSimdLevel(napi_env env, napi_callback_info) {
  return make_string(env, level_name(detected_level()));
}

// The first argument as a short string (a setting name); throws a TypeError naming `name` otherwise.
static bool read_short_string(napi_env env, napi_callback_info info, const char* name, std::string* out) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char text[16] = {0};
  size_t length = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], text, sizeof text, &length) != napi_ok) {
    napi_throw_type_error(env, nullptr, (std::string(name) + " must be a string").c_str());
    return false;
  }
  *out = text;
  return true;
}

// setSimdLevel('avx512' | 'avx2' | 'scalar'): may only lower the level below what the CPU supports.
static napi_value SetSimdLevel(napi_env env, napi_callback_info info) {
  std::string level;
  if (!read_short_string(env, info, "level", &level)) return nullptr;
  int wanted = level == "avx512" ? 2 : level == "avx2" ? 1 : level == "scalar" ? 0 : -1;
  if (wanted < 0) {
    napi_throw_range_error(env, nullptr, "level must be 'avx512', 'avx2' or 'scalar'");
    return nullptr;
  }
  if (wanted > detected_level()) {
    napi_throw_range_error(env, nullptr, ("this CPU does not support SIMD level '" + level + "'").c_str());
    return nullptr;
  }
  active_level = wanted;
  return make_string(env, level_name(active_level));
}

// setConvolutionAlgorithm('auto' | 'im2col'): 'auto' uses the direct convolutions where they apply.
static napi_value GetConvolutionAlgorithm(napi_env env, napi_callback_info) {
  return make_string(env, conv_algorithm.load() == 0 ? "auto" : "im2col");
}
static napi_value SetConvolutionAlgorithm(napi_env env, napi_callback_info info) {
  std::string algorithm;
  if (!read_short_string(env, info, "algorithm", &algorithm)) return nullptr;
  if (algorithm != "auto" && algorithm != "im2col") {
    napi_throw_range_error(env, nullptr, "algorithm must be 'auto' or 'im2col'");
    return nullptr;
  }
  conv_algorithm.store(algorithm == "auto" ? 0 : 1);
  return GetConvolutionAlgorithm(env, info);
}

// setDeterministic(on): reductions summed in a fixed order (default) or per thread (see common.h).
static napi_value GetDeterministic(napi_env env, napi_callback_info) {
  napi_value v;
  napi_get_boolean(env, deterministic_reductions.load(), &v);
  return v;
}
static napi_value SetDeterministic(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, nullptr, "deterministic must be a boolean");
    return nullptr;
  }
  deterministic_reductions.store(on);
  return GetDeterministic(env, info);
}

static napi_value GetNumThreads(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, pool_threads(), &v);
  return v;
}

static napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  Arguments args(env, info, 1);
  long threads = args.integer(0);
  if (args.failed) return nullptr;
  if (threads < 1 || threads > 256) {
    napi_throw_range_error(env, nullptr, "threads must be an integer in 1..256");
    return nullptr;
  }
  pool()->resize((int)threads);
  return GetNumThreads(env, info);
}

// Fresh pages are expensive (a page fault per 4 KiB; tens of microseconds each in sandboxed VMs) and every
// tfjs op allocates a new output ArrayBuffer through calloc. glibc serves blocks above 128 KiB..32 MiB with
// a fresh mmap and unmaps them on free, so each tensor would fault in all its pages again. Keeping such
// blocks on the heap and not trimming it lets freed tensor memory be reused. Disable with
// LONGTAIL_MALLOC_TUNING=0.
static void tune_allocator() {
#if defined(__GLIBC__)
  const char* setting = std::getenv("LONGTAIL_MALLOC_TUNING");
  if (setting && std::string(setting) == "0") return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
}

static napi_value Init(napi_env env, napi_value exports) {
  tune_allocator();
  struct Entry {
    const char* name;
    napi_callback callback;
  } entries[] = {
      {"conv2d", Conv2D},
      {"conv2dBackpropInput", Conv2DBackpropInput},
      {"conv2dBackpropFilter", Conv2DBackpropFilter},
      {"batchMatMul", BatchMatMul},
      {"binary", Binary},
      {"unary", Unary},
      {"reduce", Reduce},
      {"batchNorm", BatchNorm},
      {"transpose", Transpose},
      {"tile", Tile},
      {"copyBox", CopyBox},
      {"batchNormSums", BatchNormSums},
      {"batchNormTraining", BatchNormTraining},
      {"batchNormTrainingGrad", BatchNormTrainingGrad},
      {"getSimdLevel", GetSimdLevel},
      {"getDetectedSimdLevel", GetDetectedSimdLevel},
      {"setSimdLevel", SetSimdLevel},
      {"getNumThreads", GetNumThreads},
      {"setNumThreads", SetNumThreads},
      {"getConvolutionAlgorithm", GetConvolutionAlgorithm},
      {"setConvolutionAlgorithm", SetConvolutionAlgorithm},
      {"getDeterministic", GetDeterministic},
      {"setDeterministic", SetDeterministic},
  };
  for (const Entry& entry : entries) {
    napi_value function;
    NAPI_CALL(env, napi_create_function(env, entry.name, NAPI_AUTO_LENGTH, entry.callback, nullptr, &function));
    NAPI_CALL(env, napi_set_named_property(env, exports, entry.name, function));
  }
  return exports;
}

}  // namespace longtail

NAPI_MODULE(NODE_GYP_MODULE_NAME, longtail::Init)
