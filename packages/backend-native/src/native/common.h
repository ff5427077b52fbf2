// Shared by the addon's translation units: the thread pool, the kernel argument types and the table through
// which addon.cc calls one SIMD level's kernels. Included before any `#pragma GCC target`, so everything here is
// compiled for the baseline instruction set in every unit (test/simd-isolation.test.ts checks the binary).
#ifndef LONGTAIL_COMMON_H
#define LONGTAIL_COMMON_H
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace longtail {

// ---------------------------------------------------------------------------------------------
// Persistent thread pool: workers sleep on a condition variable between jobs; the calling thread
// takes part in every job. Tasks are handed out through an atomic counter (dynamic balancing).

class ThreadPool {
 public:
  using TaskFunction = void (*)(void* context, long task, int thread);

  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return (int)workers_.size() + 1; }

  void resize(int threads) {
    threads = std::max(1, std::min(threads, 256));
    std::lock_guard<std::mutex> owner(run_mutex_);  // not while a job runs
    if (threads == size() && started_) return;
    stop_workers();
    stopping_ = false;
    for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { worker_loop(i); });
    started_ = true;
  }

  void run(long tasks, TaskFunction function, void* context) {
    if (tasks <= 0) return;
    // Nested jobs (called from inside a task), jobs while another JS thread (worker_threads) owns the
    // pool, and trivially small jobs run inline on the calling thread.
    std::unique_lock<std::mutex> owner;
    if (!workers_.empty() && tasks > 1 && !inside_job_) owner = std::unique_lock<std::mutex>(run_mutex_, std::try_to_lock);
    if (!owner.owns_lock()) {
      for (long t = 0; t < tasks; t++) function(context, t, 0);
      return;
    }
    inside_job_ = true;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      function_ = function;
      context_ = context;
      task_count_ = tasks;
      next_task_.store(0);
      busy_workers_ = (int)workers_.size();
      generation_++;
    }
    wake_.notify_all();
    work(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    inside_job_ = false;
  }

 private:
  void work(int thread) {
    for (;;) {
      long task = next_task_.fetch_add(1);
      if (task >= task_count_) break;
      function_(context_, task, thread);
    }
  }

  void worker_loop(int thread) {
    inside_job_ = true;  // a worker never starts a nested parallel job
    unsigned long seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      lock.unlock();
      work(thread);
      lock.lock();
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  unsigned long generation_ = 0;
  TaskFunction function_ = nullptr;
  void* context_ = nullptr;
  long task_count_ = 0;
  std::atomic<long> next_task_{0};
  int busy_workers_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  std::mutex run_mutex_;  // one parallel job at a time
  static inline thread_local bool inside_job_ = false;
};

inline ThreadPool* pool() {
  static ThreadPool* instance = new ThreadPool((int)std::max(1u, std::thread::hardware_concurrency()));
  return instance;
}
inline int pool_threads() { return pool()->size(); }

template <typename Function>
inline void parallel_for(long tasks, Function&& function) {
  using F = typename std::remove_reference<Function>::type;
  pool()->run(
      tasks, [](void* context, long task, int thread) { (*static_cast<F*>(context))(task, thread); },
      (void*)&function);
}

struct ConvShape {
  int n, h, w, cin;     // input
  int kh, kw, cout;     // filter
  int oh, ow;           // output
  int sh, sw, dh, dw;   // strides, dilations
  int pt, pl;           // top/left padding
};

enum BinaryOp { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MAX, BIN_MIN, BIN_SQUARED_DIFFERENCE, BIN_RELU_GRAD, BIN_SQUARE_GRAD, BIN_ADD_RELU };
enum UnaryOp { UN_RELU, UN_SQUARE, UN_NEG, UN_ABS, UN_SQRT, UN_RSQRT, UN_EXP, UN_LOG, UN_STEP, UN_SIGMOID };
enum ReduceOp { RED_SUM, RED_MEAN, RED_MAX, RED_MIN };

struct BinaryArgs {
  const float* a;
  const float* b;
  float* out;
  long total, row_length;
  // Row r of an operand starts at ((r / row_div) % row_mod) * row_stride.
  long a_row_stride, a_row_mod, a_row_div, b_row_stride, b_row_mod, b_row_div;
  bool a_run, b_run;
};

// Convolution algorithm, shared by every SIMD level: 0 = auto (direct convolutions where they apply), 1 = im2col + GEMM.
inline std::atomic<int> conv_algorithm{0};

// Deterministic reductions (default on; setDeterministic / LONGTAIL_NATIVE_DETERMINISTIC). Every reduction whose
// work items are handed out dynamically accumulates into partial sums that belong to a fixed range of work items,
// not to whichever thread ran them, and the partials are added in index order, so a result depends only on the
// shapes and the inputs: not on thread timing, and not on the thread count up to REDUCTION_GROUPS threads.
// Off, the filter gradients keep one partial sum per thread (summed in thread order): work items then land in
// different partials from run to run and the float rounding of the sum changes.
inline std::atomic<bool> deterministic_reductions{true};
constexpr long REDUCTION_GROUPS = 16;

// Number of partial sums (groups of consecutive work items) a deterministic reduction over `tasks` work items uses:
// REDUCTION_GROUPS, or one per thread beyond that many threads, and never more than there are work items.
inline long reduction_groups(long tasks, int threads) {
  return std::max<long>(1, std::min<long>(tasks, std::max<long>(REDUCTION_GROUPS, threads)));
}

// One SIMD level's kernels, by function pointer (each level is its own translation unit: kernels_<level>.cc).
struct KernelTable {
  const char* name;
  void (*conv2d)(const ConvShape&, const float*, const float*, const float*, bool, float*);
  void (*conv2d_backprop_input)(const ConvShape&, const float*, const float*, float*);
  void (*conv2d_backprop_filter)(const ConvShape&, const float*, const float*, float*);
  void (*batch_matmul)(long, long, long, long, const float*, long, bool, const float*, long, bool, const float*, bool,
                       float*);
  void (*binary)(int, const BinaryArgs&);
  void (*unary)(int, const float*, float*, long, float);
  void (*reduce)(int, const float*, long, long, long, float*);
  void (*batch_norm)(const float*, long, long, const float*, long, const float*, long, const float*, long,
                     const float*, long, float, bool, float*);
  void (*batch_norm_sums)(const float*, const float*, const float*, long, long, double*, double*);
  void (*batch_norm_training)(const float*, long, long, const float*, const float*, float, bool, float*, float*,
                              float*);
  void (*batch_norm_training_grad)(const float*, const float*, const float*, long, long, const float*, const float*,
                                   const float*, float, float*, float*, float*);
};

#define LT_TABLE(ns)                                                                                              \
  KernelTable {                                                                                                   \
    #ns, ns::conv2d, ns::conv2d_backprop_input, ns::conv2d_backprop_filter, ns::batch_matmul, ns::binary,          \
        ns::unary, ns::reduce, ns::batch_norm, ns::batch_norm_sums, ns::batch_norm_training,                      \
        ns::batch_norm_training_grad                                                                              \
  }

extern const KernelTable scalar_table;
#if defined(__x86_64__) || defined(__i386__)
#define LT_HAVE_X86 1
extern const KernelTable avx2_table;
extern const KernelTable avx512_table;
#endif

}  // namespace longtail

#endif  // LONGTAIL_COMMON_H
