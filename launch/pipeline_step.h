#pragma once
// Runs one training step's forward and backward passes over this rank's micro-batches with the
// 1F1B schedule (parallel/pipeline_schedule.h): the schedule is data, this executor just walks
// this stage's action list, moving activations and gradients with the pp communicator.
#include <functional>

#include "launch/distributed.h"

namespace pha::launch {

struct PipelineResult {
  double loss_sum = 0;  // sum over micro-batches of their mean loss (last stage only)
};

// tokens_of(m): host tokens [B*T] of micro-batch m. on_forward(m, loss) runs on the last stage
// right after micro-batch m's forward (e.g. to score recall from its logits). last_backward_ready
// (optional) hears, during this stage's last backward of the step, of the parameters whose
// gradients are complete (GradientSync::last_backward_hook starts their dp average there).
// every_backward_ready (optional; not with last_backward_ready) hears of them in every backward
// (GradientSync::every_backward_hook: ZeRO-2's gradient window). Every forward takes the head's
// gradient when the head is in chunks (ForwardOptions::head_gradient) and, with `predict`, each
// row's most likely token for on_forward (Model::predictions).
PipelineResult run_pipeline_step(Model& model, Distributed& dist,
                                 const std::function<const int32_t*(int)>& tokens_of,
                                 const std::function<void(int, int)>& on_forward,
                                 const GradsReadyHook& last_backward_ready = {},
                                 const GradsReadyHook& every_backward_ready = {},
                                 bool predict = false);

}  // namespace pha::launch
