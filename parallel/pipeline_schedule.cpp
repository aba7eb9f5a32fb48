#include "parallel/pipeline_schedule.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace pha::parallel {

std::string_view action_kind_name(ActionKind kind) {
  switch (kind) {
    case ActionKind::forward:
      return "forward";
    case ActionKind::backward:
      return "backward";
    case ActionKind::send_activation:
      return "send_activation";
    case ActionKind::recv_activation:
      return "recv_activation";
    case ActionKind::send_grad:
      return "send_grad";
    case ActionKind::recv_grad:
      return "recv_grad";
  }
  return "?";
}

std::string describe(const Action& action) {
  std::string text = fmt::format("{} {}", action_kind_name(action.kind), action.micro_batch);
  switch (action.kind) {
    case ActionKind::send_activation:
    case ActionKind::send_grad:
      text += fmt::format(" to stage {}", action.peer);
      break;
    case ActionKind::recv_activation:
    case ActionKind::recv_grad:
      text += fmt::format(" from stage {}", action.peer);
      break;
    case ActionKind::forward:
    case ActionKind::backward:
      break;
  }
  return text;
}

std::vector<Action> one_f_one_b(int stage, int n_stages, int n_micro) {
  PHA_REQUIRE(n_stages >= 1 && n_micro >= 1 && stage >= 0 && stage < n_stages,
              "1F1B needs at least one stage and one micro-batch and a stage among them; got "
              "stage {} of {} with {} micro-batches",
              stage, n_stages, n_micro);
  const bool first = stage == 0;
  const bool last = stage == n_stages - 1;
  const int warmup = std::min(n_stages - stage - 1, n_micro);
  std::vector<Action> actions;
  auto add = [&](ActionKind kind, int micro, int peer = -1) {
    actions.push_back({kind, micro, peer});
  };
  auto forward = [&](int micro) {
    if (!first) add(ActionKind::recv_activation, micro, stage - 1);
    add(ActionKind::forward, micro);
  };
  auto backward = [&](int micro) {
    add(ActionKind::backward, micro);
    if (!first) add(ActionKind::send_grad, micro, stage - 1);
  };

  for (int micro = 0; micro < warmup; ++micro) {
    forward(micro);
    if (!last) add(ActionKind::send_activation, micro, stage + 1);
  }
  for (int step = 0; warmup + step < n_micro; ++step) {
    const int fwd = warmup + step;
    forward(fwd);
    if (!last) {
      add(ActionKind::recv_grad, step, stage + 1);
      add(ActionKind::send_activation, fwd, stage + 1);
    }
    backward(step);
  }
  for (int micro = n_micro - warmup; micro < n_micro; ++micro) {
    if (!last) add(ActionKind::recv_grad, micro, stage + 1);
    backward(micro);
  }
  return actions;
}

std::vector<std::vector<Action>> one_f_one_b_all(int n_stages, int n_micro) {
  std::vector<std::vector<Action>> stages;
  for (int stage = 0; stage < n_stages; ++stage)
    stages.push_back(one_f_one_b(stage, n_stages, n_micro));
  return stages;
}

std::vector<LayerRange> stage_layers(int n_layers, int n_stages) {
  PHA_REQUIRE(n_stages >= 1, "the pipeline needs at least one stage, got pp {}", n_stages);
  PHA_REQUIRE(n_stages <= n_layers,
              "pp {} exceeds the layer count {}: every pipeline stage needs at least one layer",
              n_stages, n_layers);
  // The last stage also runs the final norm, head and loss, so the extra layers of an uneven
  // split go to the first stages.
  const int base = n_layers / n_stages;
  const int extra = n_layers % n_stages;
  std::vector<LayerRange> ranges;
  int first = 0;
  for (int stage = 0; stage < n_stages; ++stage) {
    const int count = base + (stage < extra ? 1 : 0);
    ranges.push_back({first, count});
    first += count;
  }
  return ranges;
}

}  // namespace pha::parallel
