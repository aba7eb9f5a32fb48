#pragma once
// The NCCL Communicator: device tensors (bf16, f32, f64, i32) of one GPU over an NCCL communicator.
//
// Streams: NCCL runs on a non-blocking stream of its own, ordered against the compute stream (the
// CUDA backend's) with events. Each operation first waits for the work already queued on the
// compute stream (an event recorded there), and the compute stream waits for the operation (an
// event recorded after it), so kernels queued before a call produce its input and kernels queued
// after it see its output.
//
// Deadline: every call returns when its operation is complete (as the interface says), and
// wait() of a started all-reduce likewise. The host polls the operation's event and NCCL's
// asynchronous error until then, at most timeout_s seconds; on expiry or an NCCL error it aborts
// the NCCL communicator (ncclCommAbort ends its kernels, so nothing hangs) and throws pha::Error:
//   "<operation> on the <group> group (rank R of N) did not complete within S s; ..."
// An aborted communicator refuses every later call.
//
// recv cannot check the element count that arrived (NCCL transfers no count): sender and receiver
// must agree, and a mismatch ends in the deadline.
//
// The calling thread's current CUDA device must be the communicator's GPU (the CUDA backend
// selects it for the thread that creates it).
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <string>

#include "parallel/communicator.h"

namespace pha::parallel {

class NcclCommunicator final : public Communicator {
 public:
  static constexpr double default_timeout_s = 300;

  // A new id for one group, made by one of its ranks and given to all (make_nccl_communicator.h
  // broadcasts it over MPI).
  static ncclUniqueId new_id();

  // Collective over the group's `size` ranks, each passing the same id and its own `rank`: joins
  // the group on GPU `device`. `compute` is the stream the tensors are computed on (not owned).
  // `name` names the group in messages ("tp", "dp", ...).
  NcclCommunicator(const ncclUniqueId& id, int rank, int size, std::string name, int device,
                   cudaStream_t compute, double timeout_s = default_timeout_s);
  // Destroys the NCCL communicator, or aborts it when a started all-reduce was never waited for.
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }
  double timeout() const { return timeout_s_; }
  cudaStream_t stream() const { return stream_; }

 protected:
  void do_all_reduce(const Tensor& t, ReduceOp op) override;
  std::unique_ptr<PendingRequest> do_all_reduce_start(const Tensor& t, ReduceOp op) override;
  void do_reduce_scatter(const Tensor& in, const Tensor& out, ReduceOp op) override;
  void do_all_gather(const Tensor& in, const Tensor& out) override;
  void do_broadcast(const Tensor& t, int root) override;
  void do_send(const Tensor& t, int dst) override;
  void do_recv(const Tensor& t, int src) override;
  void do_barrier() override;

 private:
  class PendingAllReduce;  // an all-reduce queued on the NCCL stream, with its event

  // Makes the NCCL stream wait for the work queued so far on the compute stream.
  void after_compute();
  // Records `done` after the NCCL stream's work and makes the compute stream wait for it.
  void before_compute(cudaEvent_t done);
  // Runs `enqueue` (which queues one NCCL operation, `call`, on stream_) between after_compute
  // and before_compute, then waits on the host until it is complete.
  template <typename Enqueue>
  void run(const std::string& operation, const char* call, Enqueue enqueue);
  // Polls `done` until it completes; on an NCCL error or after the timeout aborts and throws.
  void await(cudaEvent_t done, const std::string& operation);
  // Throws pha::Error for a failed NCCL call, aborting the communicator first.
  void check(ncclResult_t result, const char* call, const std::string& operation);
  [[noreturn]] void abort_and_fail(const std::string& operation, const std::string& why);
  void require_usable(const std::string& operation) const;
  // Frees what the constructor made (also when it throws half-way); never throws.
  void release() noexcept;

  std::string name_;
  int rank_ = 0;
  int size_ = 1;
  int device_ = 0;
  double timeout_s_;
  cudaStream_t compute_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t queued_ = nullptr;     // recorded on the compute stream before each operation
  cudaEvent_t done_ = nullptr;       // recorded on the NCCL stream after a blocking operation
  int32_t* barrier_word_ = nullptr;  // device [1]: the barrier is an all-reduce of it
  ncclComm_t comm_ = nullptr;        // null once aborted
  int in_flight_ = 0;                // started all-reduces not waited for yet
};

}  // namespace pha::parallel
