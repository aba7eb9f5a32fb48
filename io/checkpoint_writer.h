#pragma once
// Checkpoints written in the background (docs/checkpoint-format.md, "Asynchronous checkpoints").
// Between two steps the training thread takes a host snapshot (ckpt::take_snapshot) and goes on;
// a writer thread writes it with ckpt::write_snapshot, collectively with the other ranks' writer
// threads, over a communicator of its own (an MPI_Comm_dup made up front), so its parallel-HDF5
// collectives never interleave with the training thread's. That needs MPI_THREAD_MULTIPLE.
// At most one snapshot is in flight: the next checkpoint first joins the previous write.
#include <mpi.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "io/checkpoint.h"
#include "parallel/mpi_communicator.h"

namespace pha::ckpt {

class CheckpointWriter {
 public:
  // Collective over `main`'s communicator, which it duplicates for the writer thread. `main`
  // carries the join's agreement; its timeout bounds how long a join waits.
  CheckpointWriter(parallel::MpiCommunicator& main, std::string run_dir, int keep_last,
                   int keep_every);
  // Joins a write still in flight (only on an error path: the trainer joins every write; a
  // failure then is printed, not lost) and frees the communicator.
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Starts writing `snapshot` on the writer thread. The previous write must have been joined.
  void start(Snapshot snapshot);
  bool in_flight() const { return thread_.joinable(); }

  struct Joined {
    int64_t step = 0;
    SaveResult result;
    double waited_s = 0;  // how long join() blocked the training thread
  };
  // Collective over `main` (every rank at the same step): waits for the write in flight, if any,
  // and returns it once it is committed. When any rank's write failed in the commit stage, every
  // rank throws CommitError with that rank's message. A write that failed elsewhere (a rank's
  // HDF5 block) or did not finish within main's timeout ends the job (parallel::abort_job): the
  // other ranks' writers may be waiting for it in a collective call that cannot complete.
  std::optional<Joined> join();

  // The last written snapshot, for take_snapshot to reuse its buffers (empty before the first
  // join). Memory stays bounded by one snapshot: it is either in flight or kept here.
  Snapshot take_spare() { return std::move(spare_); }

 private:
  void write(Snapshot snapshot);  // the writer thread's body

  parallel::MpiCommunicator& main_;
  MPI_Comm comm_ = MPI_COMM_NULL;  // the writer thread's duplicate of main_'s communicator
  std::string run_dir_;
  int keep_last_, keep_every_;
  std::thread thread_;
  int64_t step_ = 0;  // of the write in flight
  // The writer's outcome, guarded by mutex_; done_ is set last.
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  SaveResult result_;
  Snapshot spare_;             // the written snapshot, kept by the writer thread for reuse
  std::string error_;          // empty: success
  bool error_agreed_ = false;  // a CommitError: every rank has the same error
};

// The thread level MPI was initialised with (MPI_Query_thread).
int mpi_thread_level();
const char* mpi_thread_level_name(int level);

}  // namespace pha::ckpt
