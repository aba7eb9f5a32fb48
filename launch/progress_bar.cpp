#include "launch/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace pha::launch {
namespace {

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
}

}  // namespace

std::string human_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) bytes /= 1024, ++unit;
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

ProgressBar::ProgressBar(std::string label, uint64_t total_bytes, bool enabled)
    : label_(std::move(label)),
      total_(std::max<uint64_t>(total_bytes, 1)),
      enabled_(enabled),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressBar::line(uint64_t done, double seconds) const {
  constexpr int kWidth = 30;
  const double fraction = std::min(1.0, static_cast<double>(done) / total_);
  const int filled = static_cast<int>(fraction * kWidth);
  const double rate = seconds > 0 ? done / seconds : 0;
  const std::string eta = rate > 0 ? duration((total_ - std::min(done, total_)) / rate) : "?";
  return fmt::format("{} [{}{}] {:5.1f}%  {} / {}  {}/s  ETA {}", label_, std::string(filled, '#'),
                     std::string(kWidth - filled, '.'), 100 * fraction, human_bytes(done),
                     human_bytes(total_), human_bytes(rate), eta);
}

void ProgressBar::update(uint64_t done_bytes) {
  done_ = done_bytes;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  if (terminal_) {
    if (now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    fmt::print(stderr, "\r{}", line(done_bytes, seconds));
    std::fflush(stderr);
  } else {
    const int tenth = static_cast<int>(10.0 * done_bytes / total_);
    if (tenth <= last_tenth_) return;
    last_tenth_ = tenth;
    fmt::print(stderr, "{}\n", line(done_bytes, seconds));
  }
}

void ProgressBar::finish() {
  if (!enabled_) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (terminal_)
    fmt::print(stderr, "\r{}\n", line(done_, seconds));
  else if (last_tenth_ < 10)
    fmt::print(stderr, "{}\n", line(done_, seconds));
}

}  // namespace pha::launch
