#pragma once
// A progress report on stderr for long jobs: done / total bytes, throughput and time left. On a
// terminal one line is redrawn in place (at most 5 times a second); in a log file a line is
// printed at every tenth of the work, so logs stay short.
#include <chrono>
#include <cstdint>
#include <string>

namespace pha::launch {

class ProgressBar {
 public:
  // A disabled bar prints nothing (short jobs need no progress report).
  ProgressBar(std::string label, uint64_t total_bytes, bool enabled);
  void update(uint64_t done_bytes);
  // Prints the final state and ends the line.
  void finish();

 private:
  std::string line(uint64_t done, double seconds) const;
  std::string label_;
  uint64_t total_;
  bool enabled_, terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int last_tenth_ = 0;
  uint64_t done_ = 0;
};

// "12.3 MiB": a byte count for people.
std::string human_bytes(double bytes);

}  // namespace pha::launch
