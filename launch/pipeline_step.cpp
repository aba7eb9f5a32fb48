#include "launch/pipeline_step.h"

#include <vector>

#include "parallel/pipeline_schedule.h"

namespace pha::launch {

PipelineResult run_pipeline_step(Model& model, Distributed& dist,
                                 const std::function<const int32_t*(int)>& tokens_of,
                                 const std::function<void(int, int)>& on_forward,
                                 const GradsReadyHook& last_backward_ready,
                                 const GradsReadyHook& every_backward_ready, bool predict) {
  PHA_REQUIRE(!last_backward_ready || !every_backward_ready,
              "run_pipeline_step: give a hook for the last backward or for every one, not both");
  using parallel::ActionKind;
  const int stage = dist.stage(), n_micro = dist.n_micro;
  const int slots = model.part().slots;
  const std::vector<parallel::Action> actions =
      parallel::one_f_one_b(stage, dist.n_stages(), n_micro);
  // After the stage's last backward no gradient changes until the update.
  size_t last_backward = 0;
  for (size_t i = 0; i < actions.size(); ++i)
    if (actions[i].kind == ActionKind::backward) last_backward = i;
  PipelineResult result;
  for (size_t i = 0; i < actions.size(); ++i) {
    const parallel::Action& a = actions[i];
    // 1F1B has at most `slots` consecutive micro-batches in flight: m % slots never collides.
    const int slot = a.micro_batch % slots;
    switch (a.kind) {
      case ActionKind::forward: {
        const double loss =
            model.stage_forward(slot, tokens_of(a.micro_batch),
                                ForwardOptions{.head_gradient = true, .predict = predict});
        if (dist.last_stage()) {
          result.loss_sum += loss;
          if (on_forward) on_forward(a.micro_batch, slot);
        }
        break;
      }
      case ActionKind::backward:
        if (every_backward_ready)
          model.stage_backward(slot, every_backward_ready);
        else
          model.stage_backward(slot, i == last_backward ? last_backward_ready : GradsReadyHook{});
        break;
      case ActionKind::recv_activation:
        dist.pp.recv(model.stage_input(slot), a.peer);
        break;
      case ActionKind::send_activation:
        dist.pp.send(model.stage_output(slot), a.peer);
        break;
      case ActionKind::recv_grad:
        // The gradient of this stage's output: stage_backward starts from it.
        dist.pp.recv(model.stage_grad(), a.peer);
        break;
      case ActionKind::send_grad:
        dist.pp.send(model.stage_grad(), a.peer);
        break;
    }
  }
  return result;
}

}  // namespace pha::launch
