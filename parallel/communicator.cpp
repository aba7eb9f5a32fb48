#include "parallel/communicator.h"

#include <fmt/format.h>
#include <time.h>

#include <chrono>

namespace pha::parallel {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

namespace {

// Times one public call and adds it to the counters when the call returns.
class CallTimer {
 public:
  CallTimer(CommCounter& counter, size_t bytes) : counter_(counter), bytes_(bytes) {}
  ~CallTimer() {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    counter_.calls += 1;
    counter_.bytes += static_cast<int64_t>(bytes_);
    counter_.seconds += elapsed.count();
    counter_.cpu_seconds += thread_cpu_seconds() - cpu_start_;
  }
  CallTimer(const CallTimer&) = delete;
  CallTimer& operator=(const CallTimer&) = delete;

 private:
  CommCounter& counter_;
  size_t bytes_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double cpu_start_ = thread_cpu_seconds();
};

void require_data(const char* op, const char* what, const Tensor& t) {
  PHA_REQUIRE(!t.empty() || t.numel() == 0, "{}: {} {} has no memory", op, what, t.describe());
}

}  // namespace

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return "sum";
    case ReduceOp::max:
      return "max";
    case ReduceOp::avg:
      return "avg";
  }
  return "?";
}

std::string_view comm_op_name(CommOp op) {
  switch (op) {
    case CommOp::all_reduce:
      return "all_reduce";
    case CommOp::reduce_scatter:
      return "reduce_scatter";
    case CommOp::all_gather:
      return "all_gather";
    case CommOp::broadcast:
      return "broadcast";
    case CommOp::send:
      return "send";
    case CommOp::recv:
      return "recv";
    case CommOp::barrier:
      return "barrier";
  }
  return "?";
}

CommCounter CommStats::total() const {
  CommCounter sum;
  for (const CommCounter& c : by_op) {
    sum.calls += c.calls;
    sum.bytes += c.bytes;
    sum.seconds += c.seconds;
    sum.cpu_seconds += c.cpu_seconds;
  }
  return sum;
}

std::string CommStats::str() const {
  std::string out;
  for (int i = 0; i < comm_op_count; ++i) {
    const CommCounter& c = by_op[static_cast<size_t>(i)];
    if (c.calls == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {} calls {:.3f} MB {:.3f} s", comm_op_name(static_cast<CommOp>(i)),
                       c.calls, static_cast<double>(c.bytes) * 1e-6, c.seconds);
  }
  return out.empty() ? "no communication" : out;
}

void Communicator::all_reduce(const Tensor& t, ReduceOp op) {
  require_data("all_reduce", "tensor", t);
  CallTimer timer(stats_[CommOp::all_reduce], t.bytes());
  do_all_reduce(t, op);
}

PendingReduce Communicator::all_reduce_start(const Tensor& t, ReduceOp op) {
  require_data("all_reduce", "tensor", t);
  CallTimer timer(stats_[CommOp::all_reduce], t.bytes());
  return PendingReduce(do_all_reduce_start(t, op), CommOp::all_reduce);
}

PendingReduce Communicator::reduce_scatter_start(const Tensor& t,
                                                 const std::vector<int64_t>& counts, ReduceOp op) {
  require_data("reduce_scatter", "tensor", t);
  int64_t total = 0;
  for (int64_t c : counts) {
    PHA_REQUIRE(c >= 0, "reduce_scatter on the {} group: part of {} elements", name(), c);
    total += c;
  }
  PHA_REQUIRE(static_cast<int>(counts.size()) == size() && total == t.numel(),
              "reduce_scatter on the {} group: {} parts of {} elements in all for {} ranks and {}",
              name(), counts.size(), total, size(), t.describe());
  CallTimer timer(stats_[CommOp::reduce_scatter], t.bytes());
  return PendingReduce(do_reduce_scatter_start(t, counts, op), CommOp::reduce_scatter);
}

std::unique_ptr<PendingRequest> Communicator::do_reduce_scatter_start(
    const Tensor& t, const std::vector<int64_t>& /*counts*/, ReduceOp op) {
  return do_all_reduce_start(t, op);
}

void Communicator::wait(PendingReduce& pending) {
  PHA_REQUIRE(pending.pending(),
              "wait on the {} group: no all-reduce is pending here (waited for already?)", name());
  complete(std::move(pending.request_), pending.op_);
}

void Communicator::complete(std::unique_ptr<PendingRequest> request, CommOp op) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  request->wait();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  stats_[op].seconds += elapsed.count();
  stats_[op].cpu_seconds += thread_cpu_seconds() - cpu_start;
}

bool Communicator::progress(PendingReduce& pending) {
  return !pending.pending() || pending.request_->progress();
}

void Communicator::reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) {
  require_data("reduce_scatter", "input", in);
  require_data("reduce_scatter", "output", out);
  require_same_dtype("reduce_scatter", in, out);
  PHA_REQUIRE(in.numel() == out.numel() * size(),
              "reduce_scatter on the {} group: input {} must hold {} chunks of the output {}",
              name(), in.describe(), size(), out.describe());
  CallTimer timer(stats_[CommOp::reduce_scatter], in.bytes());
  do_reduce_scatter(in, out, op);
}

void Communicator::all_gather(const Tensor& in, const Tensor& out) {
  require_data("all_gather", "input", in);
  require_data("all_gather", "output", out);
  require_same_dtype("all_gather", in, out);
  PHA_REQUIRE(out.numel() == in.numel() * size(),
              "all_gather on the {} group: output {} must hold {} chunks of the input {}", name(),
              out.describe(), size(), in.describe());
  CallTimer timer(stats_[CommOp::all_gather], out.bytes());
  do_all_gather(in, out);
}

void Communicator::broadcast(const Tensor& t, int root) {
  require_data("broadcast", "tensor", t);
  PHA_REQUIRE(root >= 0 && root < size(),
              "broadcast on the {} group: root {} is not one of {} ranks", name(), root, size());
  CallTimer timer(stats_[CommOp::broadcast], t.bytes());
  do_broadcast(t, root);
}

void Communicator::send(const Tensor& t, int dst) {
  require_data("send", "tensor", t);
  require_peer("send to", dst);
  CallTimer timer(stats_[CommOp::send], t.bytes());
  do_send(t, dst);
}

void Communicator::recv(const Tensor& t, int src) {
  require_data("recv", "tensor", t);
  require_peer("recv from", src);
  CallTimer timer(stats_[CommOp::recv], t.bytes());
  do_recv(t, src);
}

PendingTransfer Communicator::send_start(const Tensor& t, int dst, int tag) {
  require_data("send", "tensor", t);
  require_peer("send to", dst);
  require_tag(tag);
  CallTimer timer(stats_[CommOp::send], t.bytes());
  return PendingTransfer(do_send_start(t, dst, tag), CommOp::send);
}

PendingTransfer Communicator::recv_start(const Tensor& t, int src, int tag) {
  require_data("recv", "tensor", t);
  require_peer("recv from", src);
  require_tag(tag);
  CallTimer timer(stats_[CommOp::recv], t.bytes());
  return PendingTransfer(do_recv_start(t, src, tag), CommOp::recv);
}

void Communicator::wait(PendingTransfer& pending) {
  PHA_REQUIRE(pending.pending(),
              "wait on the {} group: no transfer is pending here (waited for already?)", name());
  complete(std::move(pending.request_), pending.op_);
}

bool Communicator::progress(PendingTransfer& pending) {
  return !pending.pending() || pending.request_->progress();
}

std::unique_ptr<PendingRequest> Communicator::do_send_start(const Tensor&, int, int) {
  fail(
      "the {} group's communicator has no non-blocking send (context parallelism needs the MPI "
      "communicator: run cp > 1 on the CPU backend)",
      name());
}

std::unique_ptr<PendingRequest> Communicator::do_recv_start(const Tensor&, int, int) {
  fail(
      "the {} group's communicator has no non-blocking recv (context parallelism needs the MPI "
      "communicator: run cp > 1 on the CPU backend)",
      name());
}

void Communicator::barrier() {
  CallTimer timer(stats_[CommOp::barrier], 0);
  do_barrier();
}

void Communicator::count(CommOp op, size_t bytes, double seconds) {
  CommCounter& c = stats_[op];
  c.calls += 1;
  c.bytes += static_cast<int64_t>(bytes);
  c.seconds += seconds;
}

void Communicator::require_tag(int tag) const {
  PHA_REQUIRE(tag >= 0 && tag < 100, "a transfer on the {} group: tag {} is outside 0 .. 99",
              name(), tag);
}

void Communicator::require_peer(const char* what, int peer) const {
  // A blocking transfer to oneself can never complete.
  PHA_REQUIRE(peer >= 0 && peer < size() && peer != rank(),
              "{} {} on the {} group: the peer must be another of its {} ranks (this is rank {})",
              what, peer, name(), size(), rank());
}

}  // namespace pha::parallel
