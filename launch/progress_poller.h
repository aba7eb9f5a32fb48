#pragma once
// A thread that advances started MPI operations while the training thread computes: MPI moves a
// non-blocking operation only inside MPI calls, so something must call MPI_Test (Communicator::
// progress) between the layers' kernels. GradBuckets (the dp average) and GradWindowReduce
// (ZeRO-2's reduce-scatters) each own one. It runs only where MPI provides MPI_THREAD_MULTIPLE;
// elsewhere running() is false and the owner polls after each layer's backward instead.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace pha::launch {

class ProgressPoller {
 public:
  static constexpr std::chrono::microseconds kPollInterval{100};

  // `poll` polls every operation in flight once, with mutex() held, and returns true when none
  // needs more polls; the thread then sleeps until notify(). A throwing poll counts as idle: the
  // owner's wait() reports the failure with the operation and the group.
  explicit ProgressPoller(std::function<bool()> poll);
  ~ProgressPoller();  // stops and joins the thread
  ProgressPoller(const ProgressPoller&) = delete;
  ProgressPoller& operator=(const ProgressPoller&) = delete;

  // Starts the thread when `wanted` and MPI provides MPI_THREAD_MULTIPLE. Called once, at the end
  // of the owner's constructor (everything `poll` reads exists by then).
  void start(bool wanted);
  bool running() const { return thread_.joinable(); }
  // Guards the owner's operations in flight against the thread.
  std::mutex& mutex() { return mutex_; }
  // An operation was started: wake the thread.
  void notify() { started_.notify_one(); }

 private:
  void loop();

  std::function<bool()> poll_;
  std::mutex mutex_;
  std::condition_variable started_;  // an operation was started, or stop_
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pha::launch
