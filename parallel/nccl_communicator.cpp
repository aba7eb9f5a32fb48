#include "parallel/nccl_communicator.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "core/cuda/cuda_check.h"

namespace pha::parallel {

namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(const char* op, const Tensor& t) {
  PHA_REQUIRE(t.device == Device::cuda, "{}: the NCCL communicator moves device tensors, got {}",
              op, t.describe());
  switch (t.dtype) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::bf16:
      return ncclBfloat16;
    case DType::i32:
      return ncclInt32;
  }
  fail("{}: the NCCL communicator cannot move {}", op, t.describe());
}

ncclRedOp_t nccl_op(const char* op, DType dtype, ReduceOp reduce) {
  // As on MPI: an integer average would silently truncate.
  PHA_REQUIRE(!(reduce == ReduceOp::avg && dtype == DType::i32),
              "{}: avg of i32 values is refused (it truncates); reduce with sum and divide", op);
  switch (reduce) {
    case ReduceOp::sum:
      return ncclSum;
    case ReduceOp::max:
      return ncclMax;
    case ReduceOp::avg:
      return ncclAvg;
  }
  fail("{}: unknown reduction", op);
}

size_t count_of(const Tensor& t) {
  return static_cast<size_t>(t.numel());
}

// Like MpiCommunicator::poll: poll without pause while the operation is likely under way, then
// sleep between polls so a late peer does not burn a core.
void pause_between_polls(Clock::time_point start) {
  if (Clock::now() - start < std::chrono::milliseconds(100))
    std::this_thread::yield();
  else
    std::this_thread::sleep_for(std::chrono::microseconds(200));
}

}  // namespace

// An all-reduce queued on the NCCL stream. The compute stream waits for it only in wait(), so
// kernels queued meanwhile (the rest of a backward) run alongside it.
class NcclCommunicator::PendingAllReduce final : public PendingRequest {
 public:
  PendingAllReduce(NcclCommunicator& comm, const Tensor& t, ReduceOp op) : comm_(comm) {
    const ncclDataType_t type = nccl_type("all_reduce", t);
    const ncclRedOp_t reduce = nccl_op("all_reduce", t.dtype, op);
    comm_.require_usable("all_reduce");
    comm_.after_compute();
    comm_.check(
        ncclAllReduce(t.data, t.data, count_of(t), type, reduce, comm_.comm_, comm_.stream_),
        "ncclAllReduce", "all_reduce");
    // From here the communicator's destructor knows of it (and aborts if it is never waited for).
    ++comm_.in_flight_;
    PHA_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    PHA_CUDA_CHECK(cudaEventRecord(done_, comm_.stream_));
  }
  ~PendingAllReduce() override {
    if (done_) cudaEventDestroy(done_);
  }
  PendingAllReduce(const PendingAllReduce&) = delete;
  PendingAllReduce& operator=(const PendingAllReduce&) = delete;

  void wait() override {
    --comm_.in_flight_;
    comm_.require_usable("all_reduce");
    PHA_CUDA_CHECK(cudaStreamWaitEvent(comm_.compute_, done_, 0));
    comm_.await(done_, "all_reduce");
  }

 private:
  NcclCommunicator& comm_;
  cudaEvent_t done_ = nullptr;
};

ncclUniqueId NcclCommunicator::new_id() {
  ncclUniqueId id;
  const ncclResult_t result = ncclGetUniqueId(&id);
  PHA_REQUIRE(result == ncclSuccess, "ncclGetUniqueId failed: {}", ncclGetErrorString(result));
  return id;
}

NcclCommunicator::NcclCommunicator(const ncclUniqueId& id, int rank, int size, std::string name,
                                   int device, cudaStream_t compute, double timeout_s)
    : name_(std::move(name)),
      rank_(rank),
      size_(size),
      device_(device),
      timeout_s_(timeout_s),
      compute_(compute) {
  PHA_REQUIRE(size >= 1 && rank >= 0 && rank < size,
              "the {} group's NCCL communicator: rank {} is not one of {} ranks", name_, rank,
              size);
  PHA_REQUIRE(timeout_s > 0, "the {} group's collective timeout must be positive, got {} s", name_,
              timeout_s);
  try {
    PHA_CUDA_CHECK(cudaSetDevice(device_));
    PHA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    PHA_CUDA_CHECK(cudaEventCreateWithFlags(&queued_, cudaEventDisableTiming));
    PHA_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    PHA_CUDA_CHECK(cudaMalloc(&barrier_word_, sizeof(int32_t)));
    PHA_CUDA_CHECK(cudaMemsetAsync(barrier_word_, 0, sizeof(int32_t), stream_));
    // Non-blocking: initialisation (and every call) returns at once and is polled to completion,
    // so a rank that never joins ends in the deadline instead of a hang.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    check(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config), "ncclCommInitRankConfig",
          fmt::format("joining NCCL on GPU {}", device_));
  } catch (...) {
    release();
    throw;
  }
}

NcclCommunicator::~NcclCommunicator() {
  release();
}

void NcclCommunicator::release() noexcept {
  // A started all-reduce that nobody waited for may never complete: abort rather than wait.
  if (comm_ && in_flight_ > 0) {
    ncclCommAbort(comm_);
  } else if (comm_) {
    // Finalize flushes the queued operations (polled with the deadline); destroy then frees.
    ncclResult_t state = ncclCommFinalize(comm_);
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(timeout_s_);
    while (state == ncclInProgress && Clock::now() < deadline) {
      pause_between_polls(start);
      if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
    }
    if (state == ncclSuccess)
      ncclCommDestroy(comm_);
    else
      ncclCommAbort(comm_);
  }
  comm_ = nullptr;
  if (barrier_word_) cudaFree(barrier_word_);
  if (done_) cudaEventDestroy(done_);
  if (queued_) cudaEventDestroy(queued_);
  if (stream_) cudaStreamDestroy(stream_);
  barrier_word_ = nullptr;
  done_ = queued_ = nullptr;
  stream_ = nullptr;
}

void NcclCommunicator::require_usable(const std::string& operation) const {
  PHA_REQUIRE(comm_ != nullptr,
              "{} on the {} group: its NCCL communicator was aborted after an earlier failure",
              operation, name_);
}

void NcclCommunicator::abort_and_fail(const std::string& operation, const std::string& why) {
  if (comm_) ncclCommAbort(comm_);
  comm_ = nullptr;
  fail("{} on the {} group (rank {} of {}) {}; its NCCL communicator was aborted", operation, name_,
       rank_, size_, why);
}

void NcclCommunicator::check(ncclResult_t result, const char* call, const std::string& operation) {
  // A non-blocking communicator answers ncclInProgress while the call goes on: poll its state.
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s_);
  while (result == ncclInProgress && comm_) {
    if (Clock::now() > deadline)
      abort_and_fail(operation, fmt::format("did not complete within {:g} s ({} still in progress)",
                                            timeout_s_, call));
    pause_between_polls(start);
    const ncclResult_t query = ncclCommGetAsyncError(comm_, &result);
    if (query != ncclSuccess) result = query;
  }
  if (result == ncclSuccess) return;
  const char* last = comm_ ? ncclGetLastError(comm_) : nullptr;
  const std::string detail = last ? last : "";
  abort_and_fail(operation,
                 fmt::format("failed: {} returned {}{}{}", call, ncclGetErrorString(result),
                             detail.empty() ? "" : ": ", detail));
}

void NcclCommunicator::after_compute() {
  PHA_CUDA_CHECK(cudaEventRecord(queued_, compute_));
  PHA_CUDA_CHECK(cudaStreamWaitEvent(stream_, queued_, 0));
}

void NcclCommunicator::before_compute(cudaEvent_t done) {
  PHA_CUDA_CHECK(cudaEventRecord(done, stream_));
  PHA_CUDA_CHECK(cudaStreamWaitEvent(compute_, done, 0));
}

void NcclCommunicator::await(cudaEvent_t done, const std::string& operation) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s_);
  for (;;) {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady)
      abort_and_fail(operation, fmt::format("failed on the GPU: {} ({})", cudaGetErrorName(status),
                                            cudaGetErrorString(status)));
    ncclResult_t async = ncclSuccess;
    const ncclResult_t query = ncclCommGetAsyncError(comm_, &async);
    if (query != ncclSuccess || (async != ncclSuccess && async != ncclInProgress))
      abort_and_fail(
          operation,
          fmt::format("failed: {}", ncclGetErrorString(query != ncclSuccess ? query : async)));
    if (Clock::now() > deadline)
      abort_and_fail(operation, fmt::format("did not complete within {:g} s", timeout_s_));
    pause_between_polls(start);
  }
}

template <typename Enqueue>
void NcclCommunicator::run(const std::string& operation, const char* call, Enqueue enqueue) {
  require_usable(operation);
  after_compute();
  check(enqueue(), call, operation);
  before_compute(done_);
  await(done_, operation);
}

void NcclCommunicator::do_all_reduce(const Tensor& t, ReduceOp op) {
  const ncclDataType_t type = nccl_type("all_reduce", t);
  const ncclRedOp_t reduce = nccl_op("all_reduce", t.dtype, op);
  run("all_reduce", "ncclAllReduce",
      [&] { return ncclAllReduce(t.data, t.data, count_of(t), type, reduce, comm_, stream_); });
}

std::unique_ptr<PendingRequest> NcclCommunicator::do_all_reduce_start(const Tensor& t,
                                                                      ReduceOp op) {
  return std::make_unique<PendingAllReduce>(*this, t, op);
}

void NcclCommunicator::do_reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) {
  const ncclDataType_t type = nccl_type("reduce_scatter", in);
  nccl_type("reduce_scatter", out);
  const ncclRedOp_t reduce = nccl_op("reduce_scatter", in.dtype, op);
  run("reduce_scatter", "ncclReduceScatter", [&] {
    return ncclReduceScatter(in.data, out.data, count_of(out), type, reduce, comm_, stream_);
  });
}

void NcclCommunicator::do_all_gather(const Tensor& in, const Tensor& out) {
  const ncclDataType_t type = nccl_type("all_gather", in);
  nccl_type("all_gather", out);
  run("all_gather", "ncclAllGather",
      [&] { return ncclAllGather(in.data, out.data, count_of(in), type, comm_, stream_); });
}

void NcclCommunicator::do_broadcast(const Tensor& t, int root) {
  const ncclDataType_t type = nccl_type("broadcast", t);
  run(fmt::format("broadcast from {}", root), "ncclBroadcast",
      [&] { return ncclBroadcast(t.data, t.data, count_of(t), type, root, comm_, stream_); });
}

void NcclCommunicator::do_send(const Tensor& t, int dst) {
  const ncclDataType_t type = nccl_type("send", t);
  run(fmt::format("send to {}", dst), "ncclSend",
      [&] { return ncclSend(t.data, count_of(t), type, dst, comm_, stream_); });
}

void NcclCommunicator::do_recv(const Tensor& t, int src) {
  const ncclDataType_t type = nccl_type("recv", t);
  run(fmt::format("recv from {}", src), "ncclRecv",
      [&] { return ncclRecv(t.data, count_of(t), type, src, comm_, stream_); });
}

void NcclCommunicator::do_barrier() {
  run("barrier", "ncclAllReduce", [&] {
    return ncclAllReduce(barrier_word_, barrier_word_, 1, ncclInt32, ncclSum, comm_, stream_);
  });
}

}  // namespace pha::parallel
