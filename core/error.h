#pragma once
// Errors: one exception type carrying a message that says what failed and what to do.
// Every external call (MPI, HDF5, BLAS, FFTW, CUDA) is checked through these helpers.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace pha {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace pha

// Refuses a violated precondition with a formatted message.
#define PHA_REQUIRE(cond, ...)             \
  do {                                     \
    if (!(cond)) ::pha::fail(__VA_ARGS__); \
  } while (0)
