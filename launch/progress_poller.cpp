#include "launch/progress_poller.h"

#include <mpi.h>

#include <exception>

namespace pha::launch {

ProgressPoller::ProgressPoller(std::function<bool()> poll) : poll_(std::move(poll)) {}

ProgressPoller::~ProgressPoller() {
  if (!thread_.joinable()) return;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  started_.notify_one();
  thread_.join();
}

void ProgressPoller::start(bool wanted) {
  int initialised = 0, level = MPI_THREAD_SINGLE;
  MPI_Initialized(&initialised);
  if (initialised) MPI_Query_thread(&level);
  if (wanted && level == MPI_THREAD_MULTIPLE && !thread_.joinable())
    thread_ = std::thread([this] { loop(); });
}

void ProgressPoller::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    bool idle = true;
    try {
      idle = poll_();
    } catch (const std::exception&) {
      idle = true;
    }
    if (idle) {
      started_.wait(lock);
    } else {
      lock.unlock();
      std::this_thread::sleep_for(kPollInterval);
      lock.lock();
    }
  }
}

}  // namespace pha::launch
