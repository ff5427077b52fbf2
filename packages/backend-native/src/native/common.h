// Shared by the addon's translation units: the thread pool, the kernel argument types and the table through
// which addon.cc calls one SIMD level's kernels. Included before any `#pragma GCC target`, so everything here is
// compiled for the baseline instruction set in every unit (test/simd-isolation.test.ts checks the binary).
#ifndef LONGTAIL_COMMON_H
#define LONGTAIL_COMMON_H
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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
// Persistent thread pool. The calling thread takes part in every job; tasks are claimed one at a time from a
// ticket that carries the job's generation (dynamic balancing: a slow or descheduled thread holds at most the task
// it is running). Shared cores (another CPU-bound process on the machine) shaped it:
// - the caller waits only for tasks that were claimed, never for a worker to wake up: a worker the scheduler has
//   not run yet when every task is taken just finds the job over (the old pool waited for every worker to wake);
// - waiting spins for a bounded time (tens of microseconds, about one small kernel), then sleeps on a condition
//   variable, both for a worker between jobs and for the caller at the end of one, so that idle threads leave the
//   cores to whoever needs them.

// A pause hint for spin loops (baseline x86-64 and arm64; nothing elsewhere).
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class ThreadPool {
 public:
  using TaskFunction = void (*)(void* context, long task, int thread);

  // How long a thread spins for the next job (worker) or the job's last tasks (caller) before it sleeps.
  static constexpr auto SPIN = std::chrono::microseconds(50);

  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return (int)workers_.size() + 1; }

  void resize(int threads) {
    threads = std::max(1, std::min(threads, 256));
    std::lock_guard<std::mutex> owner(run_mutex_);  // not while a job runs
    if (threads == size() && started_) return;
    stop_workers();
    stopping_.store(false);
    for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { worker_loop(i); });
    started_ = true;
  }

  void run(long tasks, TaskFunction function, void* context) {
    if (tasks <= 0) return;
    // Nested jobs (called from inside a task), jobs while another JS thread (worker_threads) owns the
    // pool, and trivially small jobs run inline on the calling thread.
    std::unique_lock<std::mutex> owner;
    if (!workers_.empty() && tasks > 1 && !inside_job_ && tasks < (1L << 31)) owner = std::unique_lock<std::mutex>(run_mutex_, std::try_to_lock);
    if (!owner.owns_lock()) {
      for (long t = 0; t < tasks; t++) function(context, t, 0);
      return;
    }
    inside_job_ = true;
    Job job{function, context, tasks};
    uint32_t generation;
    bool sleeping;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = job;
      generation = ++generation_;
      finished_.store(0, std::memory_order_relaxed);
      ticket_.store((uint64_t)generation << 32, std::memory_order_release);
      sleeping = sleepers_ > 0;
    }
    // Spinning workers see the new ticket; sleeping ones need the notification.
    if (sleeping) wake_.notify_all();
    work(0, generation, job);
    // Every task is claimed; wait for those still running elsewhere.
    if (finished_.load(std::memory_order_acquire) != tasks) {
      const auto until = std::chrono::steady_clock::now() + SPIN;
      for (int i = 0; finished_.load(std::memory_order_acquire) != tasks; i++) {
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(mutex_);
          caller_waiting_ = true;
          done_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) == tasks; });
          caller_waiting_ = false;
          break;
        }
        spin_pause();
      }
    }
    inside_job_ = false;
  }

 private:
  struct Job {
    TaskFunction function = nullptr;
    void* context = nullptr;
    long count = 0;
  };

  // Claims and runs tasks of `generation` until none is left (or a newer job has replaced it).
  void work(int thread, uint32_t generation, const Job& job) {
    uint64_t ticket = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if ((uint32_t)(ticket >> 32) != generation) return;
      long task = (long)(ticket & 0xffffffffu);
      if (task >= job.count) return;
      if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      job.function(job.context, task, thread);
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == job.count) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (caller_waiting_) done_.notify_one();
      }
      ticket = ticket_.load(std::memory_order_acquire);
    }
  }

  void worker_loop(int thread) {
    inside_job_ = true;  // a worker never starts a nested parallel job
    uint32_t seen = 0;
    for (;;) {
      // Spin a little for the next job (kernels come back to back in a training step), then sleep.
      bool published = false;
      const auto until = std::chrono::steady_clock::now() + SPIN;
      for (int i = 0;; i++) {
        if ((uint32_t)(ticket_.load(std::memory_order_acquire) >> 32) != seen || stopping_.load(std::memory_order_relaxed)) {
          published = true;
          break;
        }
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
        spin_pause();
      }
      Job job;
      uint32_t generation;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!published) {
          sleepers_++;
          wake_.wait(lock, [&] { return stopping_.load(std::memory_order_relaxed) || generation_ != seen; });
          sleepers_--;
        }
        if (stopping_.load(std::memory_order_relaxed)) return;
        seen = generation = generation_;
        job = job_;
      }
      work(thread, generation, job);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;  // guards job_, generation_, sleepers_, caller_waiting_
  std::condition_variable wake_, done_;
  Job job_;
  uint32_t generation_ = 0;
  int sleepers_ = 0;
  bool caller_waiting_ = false;
  // (generation << 32) | index of the next task to claim.
  std::atomic<uint64_t> ticket_{0};
  std::atomic<long> finished_{0};
  std::atomic<bool> stopping_{false};
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
