#include "parallel/mpi_communicator.h"

#include <fmt/format.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "parallel/abort.h"

namespace pha::parallel {

namespace {

using Clock = std::chrono::steady_clock;

MPI_Datatype mpi_type(const char* op, const Tensor& t) {
  PHA_REQUIRE(t.device == Device::cpu, "{}: the MPI communicator moves host tensors, got {}", op,
              t.describe());
  switch (t.dtype) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::bf16:
      break;
  }
  fail("{}: the MPI communicator moves f32, f64 or i32 tensors, got {}", op, t.describe());
}

int mpi_count(const char* op, int64_t elements) {
  PHA_REQUIRE(elements <= INT_MAX, "{}: {} elements exceed MPI's count limit {}; split the buffer",
              op, elements, INT_MAX);
  return static_cast<int>(elements);
}

MPI_Op mpi_op(const char* op, DType dtype, ReduceOp reduce) {
  // An integer average would silently truncate.
  PHA_REQUIRE(!(reduce == ReduceOp::avg && dtype == DType::i32),
              "{}: avg of i32 values is refused (it truncates); reduce with sum and divide", op);
  return reduce == ReduceOp::max ? MPI_MAX : MPI_SUM;
}

template <typename T>
void divide(T* data, int64_t n, int by) {
  const T divisor = static_cast<T>(by);
  for (int64_t i = 0; i < n; ++i) data[i] /= divisor;
}

// avg is a sum divided by the group size afterwards (MPI has no average).
void finish_avg(const Tensor& t, ReduceOp op, int group_size) {
  if (op != ReduceOp::avg) return;
  if (t.dtype == DType::f32) divide(t.as<float>(), t.numel(), group_size);
  if (t.dtype == DType::f64) divide(t.as<double>(), t.numel(), group_size);
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s)
    : comm_(comm), name_(std::move(name)), world_rank_(world_rank()) {
  PHA_REQUIRE(comm_ != MPI_COMM_NULL, "the {} communicator is MPI_COMM_NULL", name_);
  set_timeout(timeout_s);
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

void MpiCommunicator::set_timeout(double seconds) {
  PHA_REQUIRE(seconds > 0, "the {} group's collective timeout must be positive, got {} s", name_,
              seconds);
  timeout_s_ = seconds;
}

void MpiCommunicator::check(int rc, const char* call) const {
  if (rc != MPI_SUCCESS) check_mpi(rc, fmt::format("{} on the {} group", call, name_));
}

bool MpiCommunicator::test(MPI_Request& request, MPI_Status* status) const {
  int done = 0;
  check(MPI_Test(&request, &done, status), "MPI_Test");
  return done != 0;
}

void MpiCommunicator::poll(MPI_Request& request, MPI_Status* status,
                           const std::string& operation) const {
  // MPI progresses a non-blocking operation only inside MPI_Test, so poll without pause (yielding
  // the core to ranks that share it) while a transfer is under way. A wait past spin_time is a
  // late peer (a pipeline bubble, a slow rank): sleep between polls so it does not burn a core.
  constexpr auto spin_time = std::chrono::milliseconds(100);
  constexpr auto sleep_time = std::chrono::microseconds(200);
  const Clock::time_point start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s_);
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, status), "MPI_Test");
    if (done) return;
    const Clock::time_point now = Clock::now();
    if (now > deadline)
      abort_job(world_rank_, fmt::format("{} on the {} group did not complete within {:g} s",
                                         operation, name_, timeout_s_));
    if (now - start < spin_time)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(sleep_time);
  }
}

// The request, and what completing it needs: avg divides after the sum arrived.
class MpiCommunicator::PendingAllReduce final : public PendingRequest {
 public:
  PendingAllReduce(const MpiCommunicator& comm, const Tensor& t, ReduceOp op)
      : comm_(comm), t_(t), op_(op) {
    comm_.check(MPI_Iallreduce(MPI_IN_PLACE, t.data, mpi_count("all_reduce", t.numel()),
                               mpi_type("all_reduce", t), mpi_op("all_reduce", t.dtype, op),
                               comm_.comm_, &request_),
                "MPI_Iallreduce");
  }
  void wait() override {
    comm_.poll(request_, MPI_STATUS_IGNORE, "all_reduce");
    finish_avg(t_, op_, comm_.size_);
  }
  bool progress() override { return comm_.test(request_); }

 private:
  const MpiCommunicator& comm_;
  Tensor t_;
  ReduceOp op_;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

// MPI_Ireduce_scatter in place leaves this rank's part at the start of t: wait() moves it to the
// part's own place, then divides for avg. The counts must live until the operation completes.
class MpiCommunicator::PendingReduceScatter final : public PendingRequest {
 public:
  PendingReduceScatter(const MpiCommunicator& comm, const Tensor& t,
                       const std::vector<int64_t>& counts, ReduceOp op)
      : comm_(comm), t_(t), op_(op) {
    for (size_t r = 0; r < counts.size(); ++r) {
      counts_.push_back(mpi_count("reduce_scatter", counts[r]));
      if (static_cast<int>(r) < comm_.rank_) offset_ += counts[r];
    }
    mpi_count("reduce_scatter", t.numel());
    comm_.check(
        MPI_Ireduce_scatter(MPI_IN_PLACE, t.data, counts_.data(), mpi_type("reduce_scatter", t),
                            mpi_op("reduce_scatter", t.dtype, op), comm_.comm_, &request_),
        "MPI_Ireduce_scatter");
  }
  void wait() override {
    comm_.poll(request_, MPI_STATUS_IGNORE, "reduce_scatter");
    const int64_t mine = counts_[static_cast<size_t>(comm_.rank_)];
    const size_t element = dtype_size(t_.dtype);
    char* part = static_cast<char*>(t_.data) + static_cast<size_t>(offset_) * element;
    if (offset_ > 0 && mine > 0) std::memmove(part, t_.data, static_cast<size_t>(mine) * element);
    finish_avg(Tensor(part, t_.dtype, t_.device, Shape{mine}), op_, comm_.size_);
  }
  bool progress() override { return comm_.test(request_); }

 private:
  const MpiCommunicator& comm_;
  Tensor t_;
  ReduceOp op_;
  std::vector<int> counts_;
  int64_t offset_ = 0;  // this rank's part, in elements
  MPI_Request request_ = MPI_REQUEST_NULL;
};

std::unique_ptr<PendingRequest> MpiCommunicator::do_reduce_scatter_start(
    const Tensor& t, const std::vector<int64_t>& counts, ReduceOp op) {
  return std::make_unique<PendingReduceScatter>(*this, t, counts, op);
}

void MpiCommunicator::do_all_reduce(const Tensor& t, ReduceOp op) {
  PendingAllReduce(*this, t, op).wait();
}

std::unique_ptr<PendingRequest> MpiCommunicator::do_all_reduce_start(const Tensor& t, ReduceOp op) {
  return std::make_unique<PendingAllReduce>(*this, t, op);
}

void MpiCommunicator::do_reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) {
  // In place (out is this rank's chunk of in): MPI leaves the result at the start of in.
  const bool in_place = out.data == static_cast<char*>(in.data) + out.bytes() * rank_;
  MPI_Request request;
  check(MPI_Ireduce_scatter_block(in_place ? MPI_IN_PLACE : in.data, in_place ? in.data : out.data,
                                  mpi_count("reduce_scatter", out.numel()),
                                  mpi_type("reduce_scatter", in),
                                  mpi_op("reduce_scatter", in.dtype, op), comm_, &request),
        "MPI_Ireduce_scatter_block");
  poll(request, MPI_STATUS_IGNORE, "reduce_scatter");
  // Chunk 0 and this rank's chunk r >= 1 do not overlap.
  if (in_place && rank_ > 0) std::memcpy(out.data, in.data, out.bytes());
  finish_avg(out, op, size_);
}

void MpiCommunicator::do_all_gather(const Tensor& in, const Tensor& out) {
  const MPI_Datatype type = mpi_type("all_gather", in);
  const int count = mpi_count("all_gather", in.numel());
  mpi_count("all_gather", out.numel());  // the gathered buffer must be addressable too
  // In place: in is this rank's chunk of out.
  const bool in_place = in.data == static_cast<char*>(out.data) + in.bytes() * rank_;
  MPI_Request request;
  check(MPI_Iallgather(in_place ? MPI_IN_PLACE : in.data, count, type, out.data, count, type, comm_,
                       &request),
        "MPI_Iallgather");
  poll(request, MPI_STATUS_IGNORE, "all_gather");
}

void MpiCommunicator::do_broadcast(const Tensor& t, int root) {
  MPI_Request request;
  check(MPI_Ibcast(t.data, mpi_count("broadcast", t.numel()), mpi_type("broadcast", t), root, comm_,
                   &request),
        "MPI_Ibcast");
  poll(request, MPI_STATUS_IGNORE, fmt::format("broadcast from {}", root));
}

void MpiCommunicator::do_send(const Tensor& t, int dst) {
  MPI_Request request;
  check(
      MPI_Isend(t.data, mpi_count("send", t.numel()), mpi_type("send", t), dst, 0, comm_, &request),
      "MPI_Isend");
  poll(request, MPI_STATUS_IGNORE, fmt::format("send to {}", dst));
}

// A started MPI_Isend (send) or MPI_Irecv; wait() polls it and checks a receive's count.
class MpiCommunicator::PendingPointToPoint final : public PendingRequest {
 public:
  PendingPointToPoint(const MpiCommunicator& comm, const Tensor& t, int peer, bool send,
                      int tag = 0)
      : comm_(comm), t_(t), peer_(peer), send_(send) {
    const char* op = send ? "send" : "recv";
    const MPI_Datatype type = mpi_type(op, t);
    const int n = mpi_count(op, t.numel());
    if (send)
      comm_.check(MPI_Isend(t.data, n, type, peer, tag, comm_.comm_, &request_), "MPI_Isend");
    else
      comm_.check(MPI_Irecv(t.data, n, type, peer, tag, comm_.comm_, &request_), "MPI_Irecv");
  }
  void wait() override {
    if (!done_)
      comm_.poll(request_, &status_, fmt::format("{} {}", send_ ? "send to" : "recv from", peer_));
    if (send_) return;
    int received = 0;
    comm_.check(MPI_Get_count(&status_, mpi_type("recv", t_), &received), "MPI_Get_count");
    if (received != t_.numel())
      abort_job(comm_.world_rank_,
                fmt::format("recv from {} on the {} group got {} elements into {}", peer_,
                            comm_.name_, received, t_.describe()));
  }
  bool progress() override {
    done_ = done_ || comm_.test(request_, &status_);
    return done_;
  }

 private:
  const MpiCommunicator& comm_;
  Tensor t_;
  int peer_;
  bool send_;
  bool done_ = false;  // completed by progress(): status_ holds the result
  MPI_Status status_{};
  MPI_Request request_ = MPI_REQUEST_NULL;
};

void MpiCommunicator::do_recv(const Tensor& t, int src) {
  PendingPointToPoint(*this, t, src, false).wait();
}

std::unique_ptr<PendingRequest> MpiCommunicator::do_send_start(const Tensor& t, int dst, int tag) {
  return std::make_unique<PendingPointToPoint>(*this, t, dst, true, tag);
}

std::unique_ptr<PendingRequest> MpiCommunicator::do_recv_start(const Tensor& t, int src, int tag) {
  return std::make_unique<PendingPointToPoint>(*this, t, src, false, tag);
}

void MpiCommunicator::do_barrier() {
  MPI_Request request;
  check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  poll(request, MPI_STATUS_IGNORE, "barrier");
}

double MpiCommunicator::all_reduce_scalar(double value, ReduceOp op) {
  all_reduce(Tensor(&value, DType::f64, Device::cpu, Shape{1}), op);
  return value;
}

int64_t MpiCommunicator::all_reduce_scalar(int64_t value, ReduceOp op) {
  PHA_REQUIRE(op != ReduceOp::avg,
              "all_reduce_scalar: avg of an integer is refused (it truncates); use sum and divide");
  const Clock::time_point start = Clock::now();
  MPI_Request request;
  check(MPI_Iallreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T,
                       op == ReduceOp::max ? MPI_MAX : MPI_SUM, comm_, &request),
        "MPI_Iallreduce");
  poll(request, MPI_STATUS_IGNORE, "all_reduce");
  count(CommOp::all_reduce, sizeof(value),
        std::chrono::duration<double>(Clock::now() - start).count());
  return value;
}

std::vector<double> MpiCommunicator::all_gather_scalar(double value) {
  std::vector<double> values(static_cast<size_t>(size_));
  all_gather(Tensor(&value, DType::f64, Device::cpu, Shape{1}),
             Tensor(values.data(), DType::f64, Device::cpu, Shape{size_}));
  return values;
}

void MpiCommunicator::broadcast_bytes(void* data, size_t bytes, int root) {
  PHA_REQUIRE(root >= 0 && root < size_,
              "broadcast on the {} group: root {} is not one of {} ranks", name_, root, size_);
  const Clock::time_point start = Clock::now();
  MPI_Request request;
  check(MPI_Ibcast(data, mpi_count("broadcast", static_cast<int64_t>(bytes)), MPI_BYTE, root, comm_,
                   &request),
        "MPI_Ibcast");
  poll(request, MPI_STATUS_IGNORE, fmt::format("broadcast from {}", root));
  count(CommOp::broadcast, bytes, std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace pha::parallel
