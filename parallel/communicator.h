#pragma once
// One interface for the collectives and point-to-point transfers of a group of ranks; MPI (host
// memory) and NCCL (device memory) implement it.
//
// The public calls check their arguments, time the call and count it, then hand over to the
// implementation, so every backend counts the same way. Bytes counted per call:
//   all_reduce, broadcast, send, recv: the tensor's bytes;
//   reduce_scatter: the full input (size() chunks); all_gather: the full output (size() chunks);
//   barrier: 0.
// Seconds are the wall time spent inside the call (for the communication fraction of a step);
// cpu_seconds the calling thread's CPU time in it (a rank's compute time is its thread's CPU time
// less this: bench/context_parallel.sh).
// A non-blocking all-reduce (all_reduce_start + wait) counts as one all_reduce call: its bytes
// when started, and the time spent inside both calls; likewise reduce_scatter_start (as one
// reduce_scatter of the whole tensor).
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace pha::parallel {

enum class ReduceOp { sum, max, avg };
std::string_view reduce_op_name(ReduceOp op);

enum class CommOp { all_reduce, reduce_scatter, all_gather, broadcast, send, recv, barrier };
inline constexpr int comm_op_count = 7;
std::string_view comm_op_name(CommOp op);

struct CommCounter {
  int64_t calls = 0;
  int64_t bytes = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // the calling thread's CPU time inside the calls (polling)
};

// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), seconds.
double thread_cpu_seconds();

struct CommStats {
  std::array<CommCounter, comm_op_count> by_op{};

  CommCounter& operator[](CommOp op) { return by_op[static_cast<size_t>(op)]; }
  const CommCounter& operator[](CommOp op) const { return by_op[static_cast<size_t>(op)]; }
  CommCounter total() const;
  void reset() { by_op = {}; }
  // "all_reduce 12 calls 3.1 MB 0.020 s, ..." listing the kinds that were called.
  std::string str() const;
};

// What an implementation keeps of a started operation until it completes.
class PendingRequest {
 public:
  virtual ~PendingRequest() = default;
  // Returns when the operation is complete, with the communicator's deadline (see the
  // implementations); called once.
  virtual void wait() = 0;
  // Lets the operation advance without blocking; true when nothing more can be done here (it is
  // complete, or it advances on its own, as NCCL's on the GPU). MPI advances a non-blocking
  // operation only inside MPI calls: MPI_Test. Never concurrently with wait() on one request.
  virtual bool progress() { return true; }
};

// A started all-reduce (or reduce-scatter), completed by Communicator::wait. Until then the tensor
// must be neither read nor written (on a device: by work queued after the start). Move-only.
class PendingReduce {
 public:
  PendingReduce() = default;
  bool pending() const { return request_ != nullptr; }

 private:
  friend class Communicator;
  PendingReduce(std::unique_ptr<PendingRequest> request, CommOp op)
      : request_(std::move(request)), op_(op) {}
  std::unique_ptr<PendingRequest> request_;
  CommOp op_ = CommOp::all_reduce;  // the counter wait() adds its time to
};

// A started send or receive (send_start, recv_start), completed by Communicator::wait. Until
// then the tensor must be neither written (send) nor read (recv). Move-only.
class PendingTransfer {
 public:
  PendingTransfer() = default;
  bool pending() const { return request_ != nullptr; }

 private:
  friend class Communicator;
  PendingTransfer(std::unique_ptr<PendingRequest> request, CommOp op)
      : request_(std::move(request)), op_(op) {}
  std::unique_ptr<PendingRequest> request_;
  CommOp op_ = CommOp::send;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The group's name for messages: "tp", "dp", ...
  virtual const std::string& name() const = 0;

  // In place: every rank ends with op over all ranks' t.
  void all_reduce(const Tensor& t, ReduceOp op);
  // Non-blocking all_reduce: returns once the reduction is started; wait() completes it. Every
  // rank of the group starts its reductions in the same order (as for any collective); several
  // may be pending at once, and other calls may run meanwhile. Every started reduction must be
  // waited for before the job ends.
  PendingReduce all_reduce_start(const Tensor& t, ReduceOp op);
  void wait(PendingReduce& pending);
  // Non-blocking reduce-scatter of unequal parts, in place: t holds size() consecutive parts,
  // part r of counts[r] elements (some may be empty); once wait() returns, this rank's part of t
  // holds op over every rank's same part, and the other parts are undefined. Same rules as
  // all_reduce_start.
  PendingReduce reduce_scatter_start(const Tensor& t, const std::vector<int64_t>& counts,
                                     ReduceOp op);
  // Advances a started all-reduce without blocking (MPI_Test); true when it needs no more polls.
  // Polling between computations is what makes the reduction overlap them on MPI.
  bool progress(PendingReduce& pending);
  // in holds size() equal chunks of out's element count; rank r receives op over all ranks'
  // chunk r. out is either apart from in or exactly this rank's chunk of it (in place; the other
  // chunks of in are then left undefined).
  void reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op);
  // out holds size() chunks of in's element count; chunk r is rank r's in. in is either apart
  // from out or exactly this rank's chunk of it (in place).
  void all_gather(const Tensor& in, const Tensor& out);
  // In place: every rank ends with root's t.
  void broadcast(const Tensor& t, int root);
  // Blocking: returns when the transfer is complete. Messages between two ranks of a group
  // arrive in the order they were sent; recv checks the element count that arrived.
  void send(const Tensor& t, int dst);
  void recv(const Tensor& t, int src);
  // Non-blocking send and recv (ring attention overlaps them with compute): return once started,
  // wait() completes them; counted as send and recv. Between two ranks, transfers are matched in
  // the order they were started, per tag (0 .. 99; the blocking calls use tag 0). Every started
  // transfer must be waited for.
  PendingTransfer send_start(const Tensor& t, int dst, int tag = 0);
  PendingTransfer recv_start(const Tensor& t, int src, int tag = 0);
  void wait(PendingTransfer& pending);
  // Advances a started transfer without blocking (MPI_Test); true when it is complete.
  bool progress(PendingTransfer& pending);
  void barrier();

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_.reset(); }

 protected:
  virtual void do_all_reduce(const Tensor& t, ReduceOp op) = 0;
  virtual std::unique_ptr<PendingRequest> do_all_reduce_start(const Tensor& t, ReduceOp op) = 0;
  virtual void do_reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) = 0;
  // Default: an all-reduce of the whole tensor (every part gets its result: twice the traffic).
  virtual std::unique_ptr<PendingRequest> do_reduce_scatter_start(
      const Tensor& t, const std::vector<int64_t>& counts, ReduceOp op);
  virtual void do_all_gather(const Tensor& in, const Tensor& out) = 0;
  virtual void do_broadcast(const Tensor& t, int root) = 0;
  virtual void do_send(const Tensor& t, int dst) = 0;
  virtual void do_recv(const Tensor& t, int src) = 0;
  virtual void do_barrier() = 0;
  // Implementations without non-blocking point-to-point transfers refuse them (pha::Error).
  virtual std::unique_ptr<PendingRequest> do_send_start(const Tensor& t, int dst, int tag);
  virtual std::unique_ptr<PendingRequest> do_recv_start(const Tensor& t, int src, int tag);

  // Adds one call of `op` moving `bytes`, taking `seconds`; for helpers outside the calls above.
  void count(CommOp op, size_t bytes, double seconds);

 private:
  void require_peer(const char* what, int peer) const;
  void require_tag(int tag) const;
  // Waits for a started operation (released even when the wait throws, so a failed request is
  // not waited for twice) and adds the wall and CPU time to `op`'s counter.
  void complete(std::unique_ptr<PendingRequest> request, CommOp op);
  CommStats stats_;
};

}  // namespace pha::parallel
