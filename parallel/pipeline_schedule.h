#pragma once
// The pipeline schedule as data: each stage's ordered list of actions for one step of n_micro
// micro-batches. An executor runs the list with blocking sends and receives on the pp group
// (the peer is the stage index, which is the pp-local rank); a validator checks any set of lists.
#include <string>
#include <string_view>
#include <vector>

namespace pha::parallel {

enum class ActionKind { forward, backward, send_activation, recv_activation, send_grad, recv_grad };
std::string_view action_kind_name(ActionKind kind);

struct Action {
  ActionKind kind = ActionKind::forward;
  int micro_batch = 0;
  int peer = -1;  // the other stage of a transfer; -1 for forward and backward

  bool operator==(const Action&) const = default;
};
std::string describe(const Action& action);  // "send_activation 3 to stage 2"

// 1F1B for one stage: n_stages - stage - 1 warmup forwards (at most n_micro), then alternating
// forward and backward, then the remaining backwards. A stage > 0 receives each activation just
// before its forward and sends the input gradient back right after its backward; a stage < last
// sends each activation after its forward and receives its gradient before its backward.
// In the steady phase a non-last stage receives gradient j before sending activation i: the next
// stage sends gradient j before it receives activation i, and both ends of a link must agree on
// the order of their transfers, or blocking (rendezvous) transfers deadlock.
std::vector<Action> one_f_one_b(int stage, int n_stages, int n_micro);
// Every stage's list, by stage.
std::vector<std::vector<Action>> one_f_one_b_all(int n_stages, int n_micro);

// Checks every stage's list (by stage) for a step of n_micro micro-batches; returns "" when the
// schedule is valid, else the first problem found:
// - transfers go to the neighbour they must (activations forward, gradients backward);
// - per stage, every micro-batch is received, forwarded, sent, and the same for its gradient,
//   exactly once, each step only after the step it depends on;
// - a stage holds at most n_stages - stage micro-batches forwarded but not yet backwarded (the
//   1F1B memory bound);
// - running all stages with blocking transfers (a send completes only when the peer posts the
//   matching receive) completes without deadlock, each receive getting the micro-batch it expects.
std::string validate_schedule(const std::vector<std::vector<Action>>& stages, int n_micro);

// Contiguous balanced split of n_layers over n_stages; stage s holds layers
// [first, first + count). Refuses more stages than layers.
struct LayerRange {
  int first = 0;
  int count = 0;
  bool operator==(const LayerRange&) const = default;
};
std::vector<LayerRange> stage_layers(int n_layers, int n_stages);

}  // namespace pha::parallel
