#pragma once
// The MPI Communicator: host tensors (f32, f64, i32) over one MPI communicator.
//
// Every blocking call is started non-blocking (MPI_Iallreduce, MPI_Isend, ...) and polled until it
// completes or the timeout expires; on expiry the job aborts with
//   "rank R: <operation> on the <group> group did not complete within S s (host H)"
// so a rank that never joins a collective ends the job instead of hanging it. Every MPI call is
// checked (the communicator's error handler is set to MPI_ERRORS_RETURN); a failure aborts the job
// naming the rank, the call and MPI's error string. all_reduce_start returns with the
// MPI_Iallreduce in flight; wait() polls it the same way (the deadline counts from the wait).
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "parallel/communicator.h"

namespace pha::parallel {

class MpiCommunicator final : public Communicator {
 public:
  static constexpr double default_timeout_s = 300;

  // The host memory Open MPI (4.1, coll/libnbc: every call here is non-blocking) allocates per
  // operation in flight, in copies of the operation's whole message, for as long as it is in
  // flight (the planner's comm_in_flight, docs/cli.md "pha plan"). In place, MPI_Iallreduce runs
  // the binomial algorithm in one temporary of the message (malloc(span)); MPI_Ireduce_scatter
  // reduces the whole message up a binomial tree in two (malloc(2 span)); all-gather, broadcast,
  // send and receive work in the caller's buffers. The ranks that receive in the tree write all
  // of it (group rank 0 always; at 2 ranks both); the planner counts it on every rank.
  // tests/parallel/mpi_temporaries_test.cpp measures it.
  static constexpr int all_reduce_copies = 1;
  static constexpr int reduce_scatter_copies = 2;

  // Does not own comm (RankGrid or the caller frees it); sets its error handler to
  // MPI_ERRORS_RETURN. `name` names the group in messages ("tp", "dp", ...).
  MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s = default_timeout_s);

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }
  MPI_Comm comm() const { return comm_; }

  double timeout() const { return timeout_s_; }
  void set_timeout(double seconds);

  // Scalar helpers (counted as the matching kind with the scalar's bytes).
  double all_reduce_scalar(double value, ReduceOp op);
  int64_t all_reduce_scalar(int64_t value, ReduceOp op);  // sum or max: an integer avg truncates
  std::vector<double> all_gather_scalar(double value);    // element r is rank r's value
  void broadcast_bytes(void* data, size_t bytes, int root);

 protected:
  void do_all_reduce(const Tensor& t, ReduceOp op) override;
  std::unique_ptr<PendingRequest> do_all_reduce_start(const Tensor& t, ReduceOp op) override;
  std::unique_ptr<PendingRequest> do_reduce_scatter_start(const Tensor& t,
                                                          const std::vector<int64_t>& counts,
                                                          ReduceOp op) override;
  void do_reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) override;
  void do_all_gather(const Tensor& in, const Tensor& out) override;
  void do_broadcast(const Tensor& t, int root) override;
  void do_send(const Tensor& t, int dst) override;
  void do_recv(const Tensor& t, int src) override;
  void do_barrier() override;
  std::unique_ptr<PendingRequest> do_send_start(const Tensor& t, int dst, int tag) override;
  std::unique_ptr<PendingRequest> do_recv_start(const Tensor& t, int src, int tag) override;

 private:
  class PendingAllReduce;      // an MPI_Iallreduce in flight
  class PendingReduceScatter;  // an MPI_Ireduce_scatter in flight
  class PendingPointToPoint;   // an MPI_Isend or MPI_Irecv in flight

  void check(int rc, const char* call) const;
  // Polls `request` with MPI_Test until it completes; aborts the job after the timeout. (Not
  // named wait: that would hide Communicator::wait.)
  void poll(MPI_Request& request, MPI_Status* status, const std::string& operation) const;
  // MPI_Test once (checked): true when the request is complete.
  bool test(MPI_Request& request, MPI_Status* status = MPI_STATUS_IGNORE) const;

  MPI_Comm comm_;
  std::string name_;
  double timeout_s_;
  int rank_ = 0;
  int size_ = 1;
  int world_rank_ = 0;  // the rank named in abort messages
};

}  // namespace pha::parallel
