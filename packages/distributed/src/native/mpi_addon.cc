// @longtail/distributed: a thin N-API binding to the system MPI (Open MPI or MPICH).
//
// Threading model. One dedicated communication thread owns MPI: it calls MPI_Init_thread, runs every collective in
// the order JavaScript submitted them (a FIFO queue, so concurrent promises on different ranks can never be matched
// out of order), and calls MPI_Finalize. Completions come back to the JS thread through a thread-safe function, which
// resolves the collective's promise. A watchdog thread rejects the running collective when it exceeds its timeout
// (a rank died or hung and the launcher did not end the job): the communicator is then declared failed, every later
// call rejects at once, and the process is expected to exit (the JS layer's exit hook calls MPI_Abort, which makes
// the launcher end the other ranks). MPI_THREAD_MULTIPLE is requested so that MPI_Abort may be called from the JS
// thread while the communication thread is blocked inside a collective.
//
// Every collective (unless verification is turned off) starts with a tiny MPI_Allreduce(MAX) of a header: the kind
// of collective, the element count, the data type, the root, the reduction and a sequence number, with their
// negations, so every rank learns the minimum and maximum of each field. A mismatch (one rank broadcasting while
// another all-reduces, different lengths, a skipped call) is reported identically on every rank instead of hanging
// or corrupting memory, and the communicator stays usable.

#include <mpi.h>
#include <node_api.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class Kind : int { AllReduce = 1, Broadcast = 2, Barrier = 3, AllGather = 4, Finalize = 5 };
enum ReduceOp : int { kSum = 0, kMean = 1, kMax = 2, kMin = 3 };
enum DataType : int { kFloat32 = 0, kFloat64 = 1, kBytes = 2 };
enum Phase : int { kNone = 0, kRunning = 1, kFinalized = 2 };

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::AllReduce: return "allReduce";
    case Kind::Broadcast: return "broadcast";
    case Kind::Barrier: return "barrier";
    case Kind::AllGather: return "allGather";
    case Kind::Finalize: return "shutdown";
  }
  return "collective";
}

const char* TypeName(int type) { return type == kFloat32 ? "float32" : type == kFloat64 ? "float64" : "bytes"; }
const char* OpName(int op) { return op == kSum ? "sum" : op == kMean ? "mean" : op == kMax ? "max" : "min"; }

struct Job {
  Kind kind = Kind::Barrier;
  uint64_t sequence = 0;
  void* data = nullptr;
  size_t count = 0;  // elements for allReduce, bytes for broadcast / allGather
  int type = kFloat32;
  int op = kSum;
  int root = 0;
  size_t chunk = 1 << 24;
  double timeoutSeconds = 0;  // <= 0: no timeout
  bool verify = true;
  napi_deferred deferred = nullptr;  // null for the synchronous finalize of the exit hook
  napi_ref keep = nullptr;           // keeps the typed array alive while the communication thread uses it
  // allReduceSync: the JS thread waits for `done` (under the mutex) instead of a promise; `abandoned` when it gave
  // up (timeout), so that the communication thread frees the job if the collective ever returns.
  bool sync = false;
  bool done = false;
  bool abandoned = false;
  // Results, written by the communication thread before it notifies.
  bool failed = false;
  bool broken = false;  // the failure leaves MPI unusable (an MPI error, not a verified mismatch)
  std::string error;
  std::vector<uint8_t> gathered;
  std::vector<int64_t> gatheredSizes;
  double seconds = 0;
  // Main thread only.
  bool settled = false;
};

struct Notification {
  Job* job;
  bool timeout;
};

struct State {
  std::mutex mutex;
  std::condition_variable queueReady;
  std::condition_variable watch;
  std::condition_variable initialised;
  std::condition_variable finished;
  std::condition_variable syncDone;
  std::deque<Job*> queue;
  Job* current = nullptr;
  Clock::time_point currentStart;
  bool currentTimedOut = false;
  bool stopWatchdog = false;
  bool initDone = false;
  bool initOk = false;
  bool commExited = false;
  std::string initError;
  std::thread comm;
  std::thread watchdog;
  int phase = kNone;
  bool broken = false;
  std::string brokenMessage;
  // MPI facts, written by the communication thread during init.
  int rank = 0, size = 1, localRank = 0, localSize = 1, threadLevel = 0;
  std::vector<int> pids;
  std::vector<std::string> hosts;
  MPI_Comm comm_world = MPI_COMM_NULL;
  // Main thread only.
  napi_threadsafe_function tsfn = nullptr;
  int unsettled = 0;
  uint64_t nextSequence = 0;
  napi_env env = nullptr;
};

State* state = new State();  // never freed: the threads may outlive module teardown at process exit

std::string MpiErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING + 1];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  text[length] = 0;
  return std::string(text) + " (MPI error " + std::to_string(code) + ")";
}

std::string Describe(const Job& job) {
  std::string text = std::string(KindName(job.kind)) + " #" + std::to_string(job.sequence);
  if (job.kind == Kind::AllReduce) {
    text += " (" + std::to_string(job.count) + " " + TypeName(job.type) + ", " + OpName(job.op) + ")";
  } else if (job.kind == Kind::Broadcast) {
    text += " (" + std::to_string(job.count) + " bytes from rank " + std::to_string(job.root) + ")";
  } else if (job.kind == Kind::AllGather) {
    text += " (" + std::to_string(job.count) + " bytes from this rank)";
  }
  return text;
}

// ---- communication thread -------------------------------------------------------------------------------------

bool Check(Job* job, int code, const char* what) {
  if (code == MPI_SUCCESS) return true;
  job->failed = true;
  job->broken = true;
  job->error = std::string(what) + " failed: " + MpiErrorText(code);
  return false;
}

// Every rank learns min and max of each header field; on a mismatch every rank fails the same job, identically.
bool Verify(Job* job) {
  const int fields = 6;
  int64_t header[fields] = {static_cast<int64_t>(job->kind),
                            job->kind == Kind::AllGather ? 0 : static_cast<int64_t>(job->count),
                            job->type,
                            job->kind == Kind::Broadcast ? job->root : 0,
                            job->kind == Kind::AllReduce ? job->op : 0,
                            static_cast<int64_t>(job->sequence)};
  int64_t both[2 * fields];
  for (int i = 0; i < fields; i++) {
    both[i] = header[i];
    both[fields + i] = -header[i];
  }
  if (!Check(job, MPI_Allreduce(MPI_IN_PLACE, both, 2 * fields, MPI_INT64_T, MPI_MAX, state->comm_world),
             "the header check (MPI_Allreduce)"))
    return false;
  static const char* names[fields] = {"collective", "element count", "data type", "root", "reduction", "sequence number"};
  std::string mismatches;
  for (int i = 0; i < fields; i++) {
    int64_t maximum = both[i], minimum = -both[fields + i];
    if (maximum == minimum) continue;
    if (!mismatches.empty()) mismatches += "; ";
    mismatches += std::string(names[i]) + " differs between ranks (this rank " + std::to_string(header[i]) +
                  ", min " + std::to_string(minimum) + ", max " + std::to_string(maximum) + ")";
  }
  if (mismatches.empty()) return true;
  job->failed = true;
  job->error = "ranks called different collectives: " + mismatches +
               " (collective codes: 1 allReduce, 2 broadcast, 3 barrier, 4 allGather; every rank must issue the same "
               "collectives in the same order with the same sizes)";
  return false;
}

void Execute(Job* job) {
  const auto started = Clock::now();
  MPI_Comm comm = state->comm_world;
  if (job->verify && job->kind != Kind::Finalize && state->size > 1 && !Verify(job)) return;
  switch (job->kind) {
    case Kind::AllReduce: {
      const MPI_Datatype type = job->type == kFloat64 ? MPI_DOUBLE : MPI_FLOAT;
      const size_t elementSize = job->type == kFloat64 ? 8 : 4;
      const MPI_Op op = job->op == kMax ? MPI_MAX : job->op == kMin ? MPI_MIN : MPI_SUM;
      char* bytes = static_cast<char*>(job->data);
      for (size_t offset = 0; offset < job->count; offset += job->chunk) {
        const int count = static_cast<int>(std::min(job->chunk, job->count - offset));
        if (!Check(job, MPI_Allreduce(MPI_IN_PLACE, bytes + offset * elementSize, count, type, op, comm), "MPI_Allreduce"))
          return;
      }
      if (job->op == kMean && state->size > 1) {
        if (job->type == kFloat64) {
          double* values = static_cast<double*>(job->data);
          const double divisor = state->size;
          for (size_t i = 0; i < job->count; i++) values[i] /= divisor;
        } else {
          float* values = static_cast<float*>(job->data);
          const float divisor = static_cast<float>(state->size);
          for (size_t i = 0; i < job->count; i++) values[i] /= divisor;
        }
      }
      break;
    }
    case Kind::Broadcast: {
      char* bytes = static_cast<char*>(job->data);
      const size_t chunk = std::max<size_t>(1, std::min<size_t>(job->chunk * 4, size_t{1} << 30));
      for (size_t offset = 0; offset < job->count; offset += chunk) {
        const int count = static_cast<int>(std::min(chunk, job->count - offset));
        if (!Check(job, MPI_Bcast(bytes + offset, count, MPI_BYTE, job->root, comm), "MPI_Bcast")) return;
      }
      break;
    }
    case Kind::Barrier:
      Check(job, MPI_Barrier(comm), "MPI_Barrier");
      break;
    case Kind::AllGather: {
      int64_t mine = static_cast<int64_t>(job->count);
      job->gatheredSizes.assign(state->size, 0);
      if (!Check(job, MPI_Allgather(&mine, 1, MPI_INT64_T, job->gatheredSizes.data(), 1, MPI_INT64_T, comm), "MPI_Allgather"))
        return;
      int64_t total = 0;
      std::vector<int> counts(state->size), displacements(state->size);
      for (int i = 0; i < state->size; i++) {
        counts[i] = static_cast<int>(job->gatheredSizes[i]);
        displacements[i] = static_cast<int>(total);
        total += job->gatheredSizes[i];
      }
      if (total > INT_MAX) {  // every rank sees the same sizes, so every rank fails here alike
        job->failed = true;
        job->error = "allGather is for small buffers: the ranks' buffers total " + std::to_string(total) +
                     " bytes, more than 2^31 - 1";
        return;
      }
      job->gathered.resize(static_cast<size_t>(total));
      if (!Check(job, MPI_Allgatherv(job->data, static_cast<int>(mine), MPI_BYTE, job->gathered.data(), counts.data(),
                                     displacements.data(), MPI_BYTE, comm),
                 "MPI_Allgatherv"))
        return;
      break;
    }
    case Kind::Finalize: {
      if (state->comm_world != MPI_COMM_NULL) MPI_Comm_free(&state->comm_world);
      Check(job, MPI_Finalize(), "MPI_Finalize");
      break;
    }
  }
  job->seconds = std::chrono::duration<double>(Clock::now() - started).count();
}

void Notify(Job* job, bool timeout) {
  // Called with the mutex held, so a timeout notice always precedes the same job's completion notice.
  if (job->deferred == nullptr || state->tsfn == nullptr) return;
  napi_call_threadsafe_function(state->tsfn, new Notification{job, timeout}, napi_tsfn_nonblocking);
}

void InitialiseMpi() {
  // Open MPI loads its components with dlopen; they need libmpi's symbols in the global namespace, but Node loads
  // addons (and so libmpi) with RTLD_LOCAL. Promote the already loaded library to RTLD_GLOBAL.
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  }
  int provided = 0;
  int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  std::string error;
  if (code != MPI_SUCCESS) error = "MPI_Init_thread failed: " + MpiErrorText(code);
  MPI_Comm local = MPI_COMM_NULL;
  if (error.empty()) {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    code = MPI_Comm_dup(MPI_COMM_WORLD, &state->comm_world);
    if (code != MPI_SUCCESS) error = "MPI_Comm_dup failed: " + MpiErrorText(code);
  }
  if (error.empty()) {
    MPI_Comm_set_errhandler(state->comm_world, MPI_ERRORS_RETURN);
    MPI_Comm_rank(state->comm_world, &state->rank);
    MPI_Comm_size(state->comm_world, &state->size);
    code = MPI_Comm_split_type(state->comm_world, MPI_COMM_TYPE_SHARED, state->rank, MPI_INFO_NULL, &local);
    if (code != MPI_SUCCESS) error = "MPI_Comm_split_type failed: " + MpiErrorText(code);
  }
  if (error.empty()) {
    MPI_Comm_rank(local, &state->localRank);
    MPI_Comm_size(local, &state->localSize);
    MPI_Comm_free(&local);
    // Every rank's process id and host, so that a timed-out collective can say which local ranks have exited.
    const int recordSize = 256;
    std::vector<char> mine(recordSize, 0), all(static_cast<size_t>(recordSize) * state->size, 0);
    const int pid = static_cast<int>(getpid());
    std::memcpy(mine.data(), &pid, sizeof(pid));
    int nameLength = 0;
    char name[MPI_MAX_PROCESSOR_NAME + 1] = {0};
    MPI_Get_processor_name(name, &nameLength);
    std::memcpy(mine.data() + sizeof(int), name, std::min<size_t>(static_cast<size_t>(std::max(0, nameLength)), recordSize - sizeof(int) - 1));
    code = MPI_Allgather(mine.data(), recordSize, MPI_BYTE, all.data(), recordSize, MPI_BYTE, state->comm_world);
    if (code != MPI_SUCCESS) error = "MPI_Allgather of the process table failed: " + MpiErrorText(code);
    for (int i = 0; error.empty() && i < state->size; i++) {
      int peerPid = 0;
      std::memcpy(&peerPid, all.data() + static_cast<size_t>(i) * recordSize, sizeof(int));
      state->pids.push_back(peerPid);
      state->hosts.emplace_back(all.data() + static_cast<size_t>(i) * recordSize + sizeof(int));
    }
  }
  std::lock_guard<std::mutex> lock(state->mutex);
  state->threadLevel = provided;
  state->initOk = error.empty();
  state->initError = error;
  state->initDone = true;
  state->initialised.notify_all();
}

void CommMain() {
  InitialiseMpi();
  std::unique_lock<std::mutex> lock(state->mutex);
  if (!state->initOk) {
    state->commExited = true;
    state->finished.notify_all();
    return;
  }
  for (;;) {
    state->queueReady.wait(lock, [] { return !state->queue.empty(); });
    Job* job = state->queue.front();
    state->queue.pop_front();
    state->current = job;
    state->currentStart = Clock::now();
    state->currentTimedOut = false;
    state->watch.notify_all();
    lock.unlock();
    Execute(job);
    lock.lock();
    state->current = nullptr;
    if (job->sync) {
      job->done = true;
      if (job->abandoned) delete job;
      state->syncDone.notify_all();
      continue;
    }
    const bool last = job->kind == Kind::Finalize;
    if (last) {
      state->phase = kFinalized;
      state->stopWatchdog = true;
      state->watch.notify_all();
    }
    Notify(job, false);
    if (last) break;
  }
  state->commExited = true;
  state->finished.notify_all();
}

void WatchdogMain() {
  std::unique_lock<std::mutex> lock(state->mutex);
  while (!state->stopWatchdog) {
    Job* job = state->current;
    if (job != nullptr && !state->currentTimedOut && job->timeoutSeconds > 0) {
      const auto deadline = state->currentStart + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(job->timeoutSeconds));
      if (Clock::now() >= deadline) {
        state->currentTimedOut = true;
        state->broken = true;
        char seconds[32];
        std::snprintf(seconds, sizeof(seconds), "%g", job->timeoutSeconds);
        state->brokenMessage = "rank " + std::to_string(state->rank) + ": " + Describe(*job) +
                               " did not complete within " + seconds + " s";
        Notify(job, true);
        state->syncDone.notify_all();
        continue;
      }
      state->watch.wait_until(lock, deadline);
    } else {
      state->watch.wait(lock);
    }
  }
}

// ---- JS thread --------------------------------------------------------------------------------------------------

#define CALL(env, expression)                                                              \
  do {                                                                                     \
    if ((expression) != napi_ok) {                                                         \
      const napi_extended_error_info* info = nullptr;                                      \
      napi_get_last_error_info((env), &info);                                              \
      bool pending = false;                                                                \
      napi_is_exception_pending((env), &pending);                                          \
      if (!pending) napi_throw_error((env), nullptr, info && info->error_message ? info->error_message : #expression); \
      return nullptr;                                                                      \
    }                                                                                      \
  } while (0)

napi_value Undefined(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

napi_value MakeError(napi_env env, const std::string& message, const char* code) {
  napi_value text, codeValue, error;
  napi_create_string_utf8(env, message.c_str(), message.size(), &text);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &codeValue);
  napi_create_error(env, codeValue, text, &error);
  return error;
}

void SettleUnref(napi_env env) {
  state->unsettled--;
  if (state->unsettled == 0 && state->tsfn != nullptr) napi_unref_threadsafe_function(env, state->tsfn);
}

void Reject(napi_env env, Job* job, const std::string& message, const char* code) {
  if (job->settled) return;
  job->settled = true;
  napi_reject_deferred(env, job->deferred, MakeError(env, message, code));
  SettleUnref(env);
}

void FreeJob(napi_env env, Job* job) {
  if (job->keep != nullptr) napi_delete_reference(env, job->keep);
  delete job;
}

void Resolve(napi_env env, Job* job) {
  if (job->settled) return;
  job->settled = true;
  napi_value result = Undefined(env);
  if (job->kind == Kind::AllGather) {
    void* bytes = nullptr;
    napi_value buffer, sizes, object;
    napi_create_arraybuffer(env, job->gathered.size(), &bytes, &buffer);
    if (!job->gathered.empty()) std::memcpy(bytes, job->gathered.data(), job->gathered.size());
    napi_create_array_with_length(env, job->gatheredSizes.size(), &sizes);
    for (size_t i = 0; i < job->gatheredSizes.size(); i++) {
      napi_value size;
      napi_create_double(env, static_cast<double>(job->gatheredSizes[i]), &size);
      napi_set_element(env, sizes, static_cast<uint32_t>(i), size);
    }
    napi_create_object(env, &object);
    napi_set_named_property(env, object, "bytes", buffer);
    napi_set_named_property(env, object, "sizes", sizes);
    result = object;
  } else {
    napi_value seconds;
    napi_create_double(env, job->seconds, &seconds);
    result = seconds;
  }
  napi_resolve_deferred(env, job->deferred, result);
  SettleUnref(env);
}

void CallJs(napi_env env, napi_value, void*, void* data) {
  Notification* notification = static_cast<Notification*>(data);
  Job* job = notification->job;
  const bool timeout = notification->timeout;
  delete notification;
  if (env == nullptr) return;  // the environment is being torn down
  if (timeout) {
    std::deque<Job*> dropped;
    std::string message;
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      dropped.swap(state->queue);
      message = state->brokenMessage;
    }
    Reject(env, job, message, "ERR_DISTRIBUTED_TIMEOUT");
    for (Job* queued : dropped) {
      Reject(env, queued, "rank " + std::to_string(state->rank) + ": " + Describe(*queued) +
                              " was not run: an earlier collective failed (" + message + ")",
             "ERR_DISTRIBUTED_FAILED");
      FreeJob(env, queued);
    }
    return;  // the job itself is freed by its completion notice, if the collective ever returns
  }
  const bool finalize = job->kind == Kind::Finalize;
  if (job->failed) {
    const std::string message = "rank " + std::to_string(state->rank) + ": " + Describe(*job) + ": " + job->error;
    if (job->broken) {
      std::lock_guard<std::mutex> lock(state->mutex);
      if (!state->broken) {
        state->broken = true;
        state->brokenMessage = message;
      }
    }
    Reject(env, job, message, job->broken ? "ERR_DISTRIBUTED_MPI" : "ERR_DISTRIBUTED_MISMATCH");
  } else {
    Resolve(env, job);
  }
  FreeJob(env, job);
  if (finalize) {
    if (state->comm.joinable()) state->comm.join();
    if (state->watchdog.joinable()) state->watchdog.join();
    if (state->tsfn != nullptr) {
      napi_release_threadsafe_function(state->tsfn, napi_tsfn_release);
      state->tsfn = nullptr;
    }
  }
}

bool GetNumber(napi_env env, napi_value value, double* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return false;
  return napi_get_value_double(env, value, out) == napi_ok;
}

// Validates the state, creates the job's promise and queues it. Returns the promise (or null with an exception).
napi_value Submit(napi_env env, Job* job, napi_value keepAlive) {
  napi_value promise;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->phase != kRunning) {
      delete job;
      napi_throw_error(env, "ERR_DISTRIBUTED_NOT_INITIALISED",
                       state->phase == kFinalized ? "MPI has been shut down in this process"
                                                  : "MPI is not initialised (call init first)");
      return nullptr;
    }
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    delete job;
    return nullptr;
  }
  if (keepAlive != nullptr) napi_create_reference(env, keepAlive, 1, &job->keep);
  job->sequence = state->nextSequence++;
  state->unsettled++;
  if (state->unsettled == 1) napi_ref_threadsafe_function(env, state->tsfn);
  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->broken) {
    job->settled = true;
    napi_reject_deferred(env, job->deferred,
                         MakeError(env, "rank " + std::to_string(state->rank) + ": " + Describe(*job) +
                                            " was not run: an earlier collective failed (" + state->brokenMessage + ")",
                                   "ERR_DISTRIBUTED_FAILED"));
    state->unsettled--;
    if (state->unsettled == 0) napi_unref_threadsafe_function(env, state->tsfn);
    if (job->keep != nullptr) napi_delete_reference(env, job->keep);
    delete job;
    return promise;
  }
  if (job->kind == Kind::Finalize) state->phase = kFinalized;  // nothing may be queued after it
  state->queue.push_back(job);
  state->queueReady.notify_all();
  return promise;
}

// Reads (data, byte length, element type) from a TypedArray or DataView.
bool GetView(napi_env env, napi_value value, void** data, size_t* bytes, napi_typedarray_type* elementType) {
  bool isTyped = false, isView = false;
  napi_is_typedarray(env, value, &isTyped);
  if (isTyped) {
    size_t length = 0, offset = 0;
    napi_value buffer;
    if (napi_get_typedarray_info(env, value, elementType, &length, data, &buffer, &offset) != napi_ok) return false;
    size_t elementSize = 1;
    switch (*elementType) {
      case napi_int16_array: case napi_uint16_array: elementSize = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elementSize = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elementSize = 8; break;
      default: elementSize = 1;
    }
    *bytes = length * elementSize;
    return true;
  }
  napi_is_dataview(env, value, &isView);
  if (isView) {
    napi_value buffer;
    size_t offset = 0;
    *elementType = napi_uint8_array;
    return napi_get_dataview_info(env, value, bytes, data, &buffer, &offset) == napi_ok;
  }
  return false;
}

void ReadCommon(napi_env env, napi_value* argv, size_t index, Job* job) {
  double timeout = 0, verify = 1;
  if (GetNumber(env, argv[index], &timeout)) job->timeoutSeconds = timeout;
  if (GetNumber(env, argv[index + 1], &verify)) job->verify = verify != 0;
}

// allReduce(array: Float32Array | Float64Array, op: 0..3, chunkElements, timeoutSeconds, verify) → Promise<seconds>
napi_value AllReduce(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* data = nullptr;
  size_t bytes = 0;
  napi_typedarray_type type;
  if (argc < 5 || !GetView(env, argv[0], &data, &bytes, &type) ||
      (type != napi_float32_array && type != napi_float64_array)) {
    napi_throw_type_error(env, nullptr, "allReduce(array, op, chunk, timeout, verify): array must be a Float32Array or Float64Array");
    return nullptr;
  }
  double op = 0, chunk = 0;
  if (!GetNumber(env, argv[1], &op) || op < 0 || op > 3 || !GetNumber(env, argv[2], &chunk) || chunk < 1 ||
      chunk > INT_MAX) {
    napi_throw_range_error(env, nullptr, "allReduce: bad op or chunk size");
    return nullptr;
  }
  Job* job = new Job();
  job->kind = Kind::AllReduce;
  job->type = type == napi_float64_array ? kFloat64 : kFloat32;
  job->data = data;
  job->count = bytes / (type == napi_float64_array ? 8 : 4);
  job->op = static_cast<int>(op);
  job->chunk = static_cast<size_t>(chunk);
  ReadCommon(env, argv, 3, job);
  return Submit(env, job, argv[0]);
}

// allReduceSync(array, op, timeoutSeconds, verify) → seconds. Blocking: the job joins the same FIFO queue as the
// asynchronous collectives (so it runs after every collective queued before it, on every rank in the same order),
// and the JS thread waits until the communication thread has run it. For reductions needed inside a synchronous
// computation (synchronised batch norm inside a tfjs gradient). Throws like the promise versions reject.
napi_value AllReduceSync(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* data = nullptr;
  size_t bytes = 0;
  napi_typedarray_type type;
  if (argc < 4 || !GetView(env, argv[0], &data, &bytes, &type) ||
      (type != napi_float32_array && type != napi_float64_array)) {
    napi_throw_type_error(env, nullptr, "allReduceSync(array, op, timeout, verify): array must be a Float32Array or Float64Array");
    return nullptr;
  }
  double op = 0;
  if (!GetNumber(env, argv[1], &op) || op < 0 || op > 3) {
    napi_throw_range_error(env, nullptr, "allReduceSync: bad op");
    return nullptr;
  }
  Job* job = new Job();
  job->kind = Kind::AllReduce;
  job->sync = true;
  job->type = type == napi_float64_array ? kFloat64 : kFloat32;
  job->data = data;
  job->count = bytes / (type == napi_float64_array ? 8 : 4);
  job->op = static_cast<int>(op);
  job->chunk = static_cast<size_t>(INT_MAX);
  ReadCommon(env, argv, 2, job);
  std::unique_lock<std::mutex> lock(state->mutex);
  if (state->phase != kRunning) {
    lock.unlock();
    delete job;
    napi_throw_error(env, "ERR_DISTRIBUTED_NOT_INITIALISED",
                     state->phase == kFinalized ? "MPI has been shut down in this process" : "MPI is not initialised (call init first)");
    return nullptr;
  }
  job->sequence = state->nextSequence++;
  if (state->broken) {
    const std::string message = "rank " + std::to_string(state->rank) + ": " + Describe(*job) +
                                " (synchronous) was not run: an earlier collective failed (" + state->brokenMessage + ")";
    lock.unlock();
    delete job;
    napi_throw_error(env, "ERR_DISTRIBUTED_FAILED", message.c_str());
    return nullptr;
  }
  state->queue.push_back(job);
  state->queueReady.notify_all();
  state->syncDone.wait(lock, [job] { return job->done || state->broken; });
  if (!job->done) {
    // The watchdog declared this collective (or one queued before it) lost.
    auto queued = std::find(state->queue.begin(), state->queue.end(), job);
    const bool running = queued == state->queue.end();
    if (!running) state->queue.erase(queued);
    const std::string message = running ? state->brokenMessage
                                        : "rank " + std::to_string(state->rank) + ": " + Describe(*job) +
                                              " (synchronous) was not run: an earlier collective failed (" +
                                              state->brokenMessage + ")";
    if (running) job->abandoned = true;  // freed by the communication thread if MPI ever returns
    lock.unlock();
    if (!running) delete job;
    napi_throw_error(env, running ? "ERR_DISTRIBUTED_TIMEOUT" : "ERR_DISTRIBUTED_FAILED", message.c_str());
    return nullptr;
  }
  if (job->failed) {
    const std::string message = "rank " + std::to_string(state->rank) + ": " + Describe(*job) + ": " + job->error;
    if (job->broken && !state->broken) {
      state->broken = true;
      state->brokenMessage = message;
    }
    const bool broken = job->broken;
    lock.unlock();
    delete job;
    napi_throw_error(env, broken ? "ERR_DISTRIBUTED_MPI" : "ERR_DISTRIBUTED_MISMATCH", message.c_str());
    return nullptr;
  }
  const double seconds = job->seconds;
  lock.unlock();
  delete job;
  napi_value result;
  napi_create_double(env, seconds, &result);
  return result;
}

// broadcast(view, root, timeoutSeconds, verify) → Promise<seconds>
napi_value Broadcast(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* data = nullptr;
  size_t bytes = 0;
  napi_typedarray_type type;
  double root = -1;
  if (argc < 4 || !GetView(env, argv[0], &data, &bytes, &type) || !GetNumber(env, argv[1], &root)) {
    napi_throw_type_error(env, nullptr, "broadcast(view, root, timeout, verify): view must be a TypedArray or DataView");
    return nullptr;
  }
  if (root < 0 || root >= state->size || root != static_cast<int>(root)) {
    napi_throw_range_error(env, nullptr, ("broadcast: root must be an integer rank in [0, " +
                                          std::to_string(state->size) + ")").c_str());
    return nullptr;
  }
  Job* job = new Job();
  job->kind = Kind::Broadcast;
  job->type = kBytes;
  job->data = data;
  job->count = bytes;
  job->root = static_cast<int>(root);
  ReadCommon(env, argv, 2, job);
  return Submit(env, job, argv[0]);
}

// barrier(timeoutSeconds, verify) → Promise<seconds>
napi_value Barrier(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 2) {
    napi_throw_type_error(env, nullptr, "barrier(timeout, verify)");
    return nullptr;
  }
  Job* job = new Job();
  job->kind = Kind::Barrier;
  job->type = kBytes;
  ReadCommon(env, argv, 0, job);
  return Submit(env, job, nullptr);
}

// allGather(view, timeoutSeconds, verify) → Promise<{ bytes: ArrayBuffer, sizes: number[] }>
napi_value AllGather(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* data = nullptr;
  size_t bytes = 0;
  napi_typedarray_type type;
  if (argc < 3 || !GetView(env, argv[0], &data, &bytes, &type)) {
    napi_throw_type_error(env, nullptr, "allGather(view, timeout, verify): view must be a TypedArray or DataView");
    return nullptr;
  }
  if (bytes > INT_MAX) {
    napi_throw_range_error(env, nullptr, "allGather is for small buffers (under 2^31 bytes in total)");
    return nullptr;
  }
  Job* job = new Job();
  job->kind = Kind::AllGather;
  job->type = kBytes;
  job->data = data;
  job->count = bytes;
  ReadCommon(env, argv, 1, job);
  return Submit(env, job, argv[0]);
}

// shutdown() → Promise: MPI_Finalize after every queued collective.
napi_value Shutdown(napi_env env, napi_callback_info) {
  Job* job = new Job();
  job->kind = Kind::Finalize;
  job->verify = false;
  return Submit(env, job, nullptr);
}

// finalizeSync() → boolean: for the exit hook. Finalizes when the communication thread is idle and nothing failed;
// returns false (doing nothing) otherwise, and the caller aborts instead.
napi_value FinalizeSync(napi_env env, napi_callback_info) {
  napi_value result;
  std::unique_lock<std::mutex> lock(state->mutex);
  if (state->phase != kRunning || state->broken || state->current != nullptr || !state->queue.empty()) {
    napi_get_boolean(env, state->phase == kFinalized, &result);
    return result;
  }
  Job* job = new Job();  // deferred stays null: no notification
  job->kind = Kind::Finalize;
  job->verify = false;
  state->phase = kFinalized;
  state->queue.push_back(job);
  state->queueReady.notify_all();
  state->finished.wait(lock, [] { return state->commExited; });
  lock.unlock();
  if (state->comm.joinable()) state->comm.join();
  if (state->watchdog.joinable()) state->watchdog.join();
  delete job;
  napi_get_boolean(env, true, &result);
  return result;
}

// abort(code): MPI_Abort(MPI_COMM_WORLD, code). The launcher then ends every rank. Does not return when MPI is up.
napi_value Abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  double code = 1;
  if (argc >= 1) GetNumber(env, argv[0], &code);
  int phase;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    phase = state->phase;
  }
  if (phase == kRunning) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, static_cast<int>(code));
  }
  return Undefined(env);
}

napi_value MakeInfo(napi_env env) {
  napi_value object, value;
  napi_create_object(env, &object);
  auto setInt = [&](const char* name, int number) {
    napi_create_int32(env, number, &value);
    napi_set_named_property(env, object, name, value);
  };
  setInt("rank", state->rank);
  setInt("size", state->size);
  setInt("localRank", state->localRank);
  setInt("localSize", state->localSize);
  setInt("threadLevel", state->threadLevel);
  napi_value pids, hosts;
  napi_create_array_with_length(env, state->pids.size(), &pids);
  napi_create_array_with_length(env, state->hosts.size(), &hosts);
  for (size_t i = 0; i < state->pids.size(); i++) {
    napi_create_int32(env, state->pids[i], &value);
    napi_set_element(env, pids, static_cast<uint32_t>(i), value);
    napi_create_string_utf8(env, state->hosts[i].c_str(), state->hosts[i].size(), &value);
    napi_set_element(env, hosts, static_cast<uint32_t>(i), value);
  }
  napi_set_named_property(env, object, "pids", pids);
  napi_set_named_property(env, object, "hosts", hosts);
  return object;
}

// init() → { rank, size, localRank, localSize, threadLevel, pids, hosts }. Synchronous: MPI_Init runs on the
// communication thread while this thread waits.
napi_value Init(napi_env env, napi_callback_info) {
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->phase == kRunning) return MakeInfo(env);
    if (state->phase == kFinalized) {
      napi_throw_error(env, "ERR_DISTRIBUTED_FINALIZED", "MPI was shut down in this process; it cannot be initialised again");
      return nullptr;
    }
    if (state->initDone) {
      napi_throw_error(env, "ERR_DISTRIBUTED_INIT", state->initError.c_str());
      return nullptr;
    }
  }
  napi_value name;
  napi_create_string_utf8(env, "longtail-distributed", NAPI_AUTO_LENGTH, &name);
  CALL(env, napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, CallJs,
                                            &state->tsfn));
  napi_unref_threadsafe_function(env, state->tsfn);
  state->env = env;
  state->comm = std::thread(CommMain);
  std::unique_lock<std::mutex> lock(state->mutex);
  state->initialised.wait(lock, [] { return state->initDone; });
  if (!state->initOk) {
    lock.unlock();
    if (state->comm.joinable()) state->comm.join();
    napi_release_threadsafe_function(state->tsfn, napi_tsfn_release);
    state->tsfn = nullptr;
    napi_throw_error(env, "ERR_DISTRIBUTED_INIT", state->initError.c_str());
    return nullptr;
  }
  state->phase = kRunning;
  state->watchdog = std::thread(WatchdogMain);
  lock.unlock();
  return MakeInfo(env);
}

// status() → { phase: 'none' | 'running' | 'finalized', busy, queued, broken, message }
napi_value Status(napi_env env, napi_callback_info) {
  napi_value object, value;
  napi_create_object(env, &object);
  std::lock_guard<std::mutex> lock(state->mutex);
  const char* phase = state->phase == kRunning ? "running" : state->phase == kFinalized ? "finalized" : "none";
  napi_create_string_utf8(env, phase, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, object, "phase", value);
  napi_get_boolean(env, state->current != nullptr, &value);
  napi_set_named_property(env, object, "busy", value);
  napi_create_int32(env, static_cast<int>(state->queue.size()), &value);
  napi_set_named_property(env, object, "queued", value);
  napi_get_boolean(env, state->broken, &value);
  napi_set_named_property(env, object, "broken", value);
  napi_create_string_utf8(env, state->brokenMessage.c_str(), state->brokenMessage.size(), &value);
  napi_set_named_property(env, object, "message", value);
  return object;
}

// libraryVersion() → MPI_Get_library_version (callable before MPI_Init).
napi_value LibraryVersion(napi_env env, napi_callback_info) {
  char version[MPI_MAX_LIBRARY_VERSION_STRING + 1] = {0};
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, static_cast<size_t>(std::max(0, length)));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\0')) text.pop_back();
  napi_value value;
  napi_create_string_utf8(env, text.c_str(), text.size(), &value);
  return value;
}

}  // namespace

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor properties[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allReduce", nullptr, AllReduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allReduceSync", nullptr, AllReduceSync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"broadcast", nullptr, Broadcast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"barrier", nullptr, Barrier, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allGather", nullptr, AllGather, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shutdown", nullptr, Shutdown, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"finalizeSync", nullptr, FinalizeSync, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"abort", nullptr, Abort, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"status", nullptr, Status, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"libraryVersion", nullptr, LibraryVersion, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  napi_value marker;
  napi_get_boolean(env, true, &marker);
  napi_set_named_property(env, exports, "longtailDistributed", marker);
  return exports;
}
