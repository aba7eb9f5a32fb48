#include "io/checkpoint_writer.h"

#include <fmt/format.h>

#include <chrono>

#include "parallel/abort.h"

namespace pha::ckpt {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

int mpi_thread_level() {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  return level;
}

const char* mpi_thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
    default:
      return "an unknown MPI thread level";
  }
}

CheckpointWriter::CheckpointWriter(parallel::MpiCommunicator& main, std::string run_dir,
                                   int keep_last, int keep_every)
    : main_(main), run_dir_(std::move(run_dir)), keep_last_(keep_last), keep_every_(keep_every) {
  const int level = mpi_thread_level();
  PHA_REQUIRE(level == MPI_THREAD_MULTIPLE,
              "asynchronous checkpoints need MPI_THREAD_MULTIPLE, but MPI provides {}: use "
              "--train.async_ckpt=false",
              mpi_thread_level_name(level));
  parallel::check_mpi(MPI_Comm_dup(main_.comm(), &comm_), "MPI_Comm_dup (checkpoint writer)");
}

CheckpointWriter::~CheckpointWriter() {
  if (thread_.joinable()) {
    thread_.join();
    if (!error_.empty())
      fmt::print(stderr, "pha: the background write of checkpoint step {} failed: {}\n", step_,
                 error_);
  }
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void CheckpointWriter::start(Snapshot snapshot) {
  PHA_REQUIRE(!in_flight(),
              "internal: a checkpoint write was started before the previous one "
              "was joined");
  step_ = snapshot.state.step;
  done_ = false;
  error_.clear();
  error_agreed_ = false;
  thread_ = std::thread(&CheckpointWriter::write, this, std::move(snapshot));
}

void CheckpointWriter::write(Snapshot snapshot) {
  SaveResult result;
  std::string error;
  bool agreed = false;
  try {
    result = write_snapshot(run_dir_, snapshot, comm_, keep_last_, keep_every_);
  } catch (const CommitError& e) {
    error = e.what();
    agreed = true;
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::lock_guard lock(mutex_);
  spare_ = std::move(snapshot);
  result_ = result;
  error_ = error;
  error_agreed_ = agreed;
  done_ = true;
  done_cv_.notify_all();
}

std::optional<CheckpointWriter::Joined> CheckpointWriter::join() {
  if (!in_flight()) return std::nullopt;
  const auto start = Clock::now();
  {
    std::unique_lock lock(mutex_);
    const auto limit = std::chrono::duration<double>(main_.timeout());
    if (!done_cv_.wait_for(lock, limit, [this] { return done_; }))
      parallel::abort_job(parallel::world_rank(),
                          fmt::format("the background write of checkpoint step {} did not finish "
                                      "within {} s (parallel.timeout): check the file system, or "
                                      "raise parallel.timeout",
                                      step_, main_.timeout()));
  }
  thread_.join();
  const double waited = std::chrono::duration<double>(Clock::now() - start).count();
  if (!error_.empty() && !error_agreed_)
    parallel::abort_job(
        parallel::world_rank(),
        fmt::format("the background write of checkpoint step {} failed: {}", step_, error_));
  // Every rank learns whether any write failed, and the lowest failing rank's message.
  const int64_t size = main_.size();
  const int64_t failing = main_.all_reduce_scalar(error_.empty() ? int64_t{0} : size - main_.rank(),
                                                  parallel::ReduceOp::max);
  if (failing > 0) {
    const int root = static_cast<int>(size - failing);
    std::string message = error_;
    uint64_t length = message.size();
    main_.broadcast_bytes(&length, sizeof length, root);
    message.resize(length);
    main_.broadcast_bytes(message.data(), length, root);
    throw CommitError(
        fmt::format("the background write of checkpoint step {} failed: {}", step_, message));
  }
  return Joined{step_, result_, waited};
}

}  // namespace pha::ckpt
