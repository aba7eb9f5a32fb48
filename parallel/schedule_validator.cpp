// validate_schedule (pipeline_schedule.h): per-stage order checks, then a simulation of all
// stages with blocking transfers.
#include <fmt/format.h>

#include <utility>

#include "parallel/pipeline_schedule.h"

namespace pha::parallel {

namespace {

bool is_transfer(ActionKind kind) {
  return kind != ActionKind::forward && kind != ActionKind::backward;
}

// A transfer must name the neighbour its data flows to or from.
std::string check_peer(int stage, int n_stages, const Action& action) {
  int expected = -1;
  switch (action.kind) {
    case ActionKind::send_activation:
    case ActionKind::recv_grad:
      expected = stage + 1;
      break;
    case ActionKind::recv_activation:
    case ActionKind::send_grad:
      expected = stage - 1;
      break;
    case ActionKind::forward:
    case ActionKind::backward:
      return "";
  }
  if (expected < 0 || expected >= n_stages)
    return fmt::format("stage {}: {} has no such neighbour among {} stages", stage,
                       describe(action), n_stages);
  if (action.peer != expected)
    return fmt::format("stage {}: {} must name stage {}", stage, describe(action), expected);
  return "";
}

// What one stage has done for one micro-batch so far.
struct MicroProgress {
  bool recv_activation = false, forward = false, send_activation = false;
  bool recv_grad = false, backward = false, send_grad = false;
};

std::string check_stage(int stage, int n_stages, int n_micro, const std::vector<Action>& actions) {
  const bool first = stage == 0;
  const bool last = stage == n_stages - 1;
  const int max_in_flight = n_stages - stage;
  std::vector<MicroProgress> progress(static_cast<size_t>(n_micro));
  int in_flight = 0;
  for (const Action& action : actions) {
    const std::string where = fmt::format("stage {}: {}", stage, describe(action));
    if (action.micro_batch < 0 || action.micro_batch >= n_micro)
      return fmt::format("{} names a micro-batch outside 0..{}", where, n_micro - 1);
    if (std::string problem = check_peer(stage, n_stages, action); !problem.empty()) return problem;
    MicroProgress& m = progress[static_cast<size_t>(action.micro_batch)];
    // Marks a step done; false when it already was.
    auto first_time = [](bool& done) { return !std::exchange(done, true); };
    std::string problem;
    switch (action.kind) {
      case ActionKind::recv_activation:
        if (!first_time(m.recv_activation)) problem = "appears twice";
        break;
      case ActionKind::forward:
        if (!first && !m.recv_activation)
          problem = "runs before its activation is received";
        else if (!first_time(m.forward))
          problem = "appears twice";
        else if (++in_flight > max_in_flight)
          problem = fmt::format(
              "leaves {} micro-batches forwarded but not backwarded; 1F1B allows {} here",
              in_flight, max_in_flight);
        break;
      case ActionKind::send_activation:
        if (!m.forward)
          problem = "comes before the forward";
        else if (!first_time(m.send_activation))
          problem = "appears twice";
        break;
      case ActionKind::recv_grad:
        if (!m.send_activation)
          problem = "comes before the activation was sent";
        else if (!first_time(m.recv_grad))
          problem = "appears twice";
        break;
      case ActionKind::backward:
        if (!m.forward)
          problem = "runs before the forward";
        else if (!last && !m.recv_grad)
          problem = "runs before its gradient is received";
        else if (!first_time(m.backward))
          problem = "appears twice";
        else
          --in_flight;
        break;
      case ActionKind::send_grad:
        if (!m.backward)
          problem = "comes before the backward";
        else if (!first_time(m.send_grad))
          problem = "appears twice";
        break;
    }
    if (!problem.empty()) return fmt::format("{} {}", where, problem);
  }
  for (int micro = 0; micro < n_micro; ++micro) {
    const MicroProgress& m = progress[static_cast<size_t>(micro)];
    const char* missing = nullptr;
    if (!first && !m.recv_activation)
      missing = "receive the activation of";
    else if (!m.forward)
      missing = "forward";
    else if (!last && !m.send_activation)
      missing = "send the activation of";
    else if (!last && !m.recv_grad)
      missing = "receive the gradient of";
    else if (!m.backward)
      missing = "backward";
    else if (!first && !m.send_grad)
      missing = "send the input gradient of";
    if (missing) return fmt::format("stage {} never does {} micro-batch {}", stage, missing, micro);
  }
  return "";
}

ActionKind counterpart(ActionKind kind) {
  switch (kind) {
    case ActionKind::send_activation:
      return ActionKind::recv_activation;
    case ActionKind::recv_activation:
      return ActionKind::send_activation;
    case ActionKind::send_grad:
      return ActionKind::recv_grad;
    case ActionKind::recv_grad:
      return ActionKind::send_grad;
    case ActionKind::forward:
    case ActionKind::backward:
      break;
  }
  return kind;
}

// Runs every stage: compute always proceeds, a transfer only together with the matching transfer
// at the head of the peer's list (rendezvous, the strictest blocking semantics).
std::string simulate(const std::vector<std::vector<Action>>& stages) {
  const int n_stages = static_cast<int>(stages.size());
  std::vector<size_t> next(stages.size(), 0);
  auto done = [&](int s) {
    return next[static_cast<size_t>(s)] >= stages[static_cast<size_t>(s)].size();
  };
  auto head = [&](int s) -> const Action& {
    return stages[static_cast<size_t>(s)][next[static_cast<size_t>(s)]];
  };
  for (bool moved = true; moved;) {
    moved = false;
    for (int s = 0; s < n_stages; ++s) {
      while (!done(s)) {
        const Action& action = head(s);
        if (is_transfer(action.kind)) {
          const int peer = action.peer;
          if (done(peer)) break;
          const Action& other = head(peer);
          if (other.kind != counterpart(action.kind) || other.peer != s) break;
          if (other.micro_batch != action.micro_batch)
            return fmt::format(
                "stage {} at {} meets stage {} at {}: the transfers pair up the "
                "wrong micro-batches",
                s, describe(action), peer, describe(other));
          ++next[static_cast<size_t>(peer)];
        }
        ++next[static_cast<size_t>(s)];
        moved = true;
      }
    }
  }
  std::string waits;
  for (int s = 0; s < n_stages; ++s) {
    if (done(s)) continue;
    waits += fmt::format("{}stage {} waits at {}", waits.empty() ? "" : "; ", s, describe(head(s)));
  }
  return waits.empty() ? "" : "deadlock with blocking transfers: " + waits;
}

}  // namespace

std::string validate_schedule(const std::vector<std::vector<Action>>& stages, int n_micro) {
  if (stages.empty()) return "the schedule has no stages";
  if (n_micro < 1) return fmt::format("a step needs at least one micro-batch, got {}", n_micro);
  const int n_stages = static_cast<int>(stages.size());
  for (int s = 0; s < n_stages; ++s)
    if (std::string problem = check_stage(s, n_stages, n_micro, stages[static_cast<size_t>(s)]);
        !problem.empty())
      return problem;
  return simulate(stages);
}

}  // namespace pha::parallel
