// `pha check`: until training exists, the most useful end-to-end thing: build a tiny model, run
// forward and backward, and compare gradients with finite differences.
#include <fmt/format.h>

#include "launch/commands.h"

namespace pha::launch {

int run_check(const std::vector<std::string>& args) {
  fmt::print("pha check: the model is not assembled yet\n");
  return 1;
}

}  // namespace pha::launch
