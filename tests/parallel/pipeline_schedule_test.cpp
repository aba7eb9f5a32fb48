// The 1F1B schedule as data, its validator (on good and deliberately broken schedules), and the
// stage split of the layers.
#include "parallel/pipeline_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/test_util.h"

namespace pha::parallel {
namespace {

using K = ActionKind;
using Schedule = std::vector<std::vector<Action>>;

// The largest number of micro-batches a stage holds forwarded but not yet backwarded.
int peak_in_flight(const std::vector<Action>& actions) {
  int now = 0, peak = 0;
  for (const Action& a : actions) {
    if (a.kind == K::forward) peak = std::max(peak, ++now);
    if (a.kind == K::backward) --now;
  }
  return peak;
}

void expect_problem(const Schedule& schedule, int n_micro, const std::string& fragment) {
  const std::string problem = validate_schedule(schedule, n_micro);
  EXPECT_NE(problem.find(fragment), std::string::npos) << "problem was: '" << problem << "'";
}

std::vector<Action>::iterator find(std::vector<Action>& actions, Action wanted) {
  return std::find(actions.begin(), actions.end(), wanted);
}

TEST(Schedule, OneFOneBIsValidForManyShapes) {
  for (int n_stages = 1; n_stages <= 8; ++n_stages) {
    for (int n_micro = 1; n_micro <= 12; ++n_micro) {
      SCOPED_TRACE(testing::Message() << n_stages << " stages, " << n_micro << " micro-batches");
      const Schedule schedule = one_f_one_b_all(n_stages, n_micro);
      EXPECT_EQ(validate_schedule(schedule, n_micro), "");
      for (int stage = 0; stage < n_stages; ++stage)
        EXPECT_EQ(peak_in_flight(schedule[static_cast<size_t>(stage)]),
                  std::min(n_stages - stage, n_micro));
    }
  }
}

TEST(Schedule, TwoStagesThreeMicroBatchesInOrder) {
  const std::vector<Action> first = {
      {K::forward, 0},      {K::send_activation, 0, 1}, {K::forward, 1},
      {K::recv_grad, 0, 1}, {K::send_activation, 1, 1}, {K::backward, 0},
      {K::forward, 2},      {K::recv_grad, 1, 1},       {K::send_activation, 2, 1},
      {K::backward, 1},     {K::recv_grad, 2, 1},       {K::backward, 2}};
  const std::vector<Action> last = {
      {K::recv_activation, 0, 0}, {K::forward, 0}, {K::backward, 0}, {K::send_grad, 0, 0},
      {K::recv_activation, 1, 0}, {K::forward, 1}, {K::backward, 1}, {K::send_grad, 1, 0},
      {K::recv_activation, 2, 0}, {K::forward, 2}, {K::backward, 2}, {K::send_grad, 2, 0}};
  EXPECT_EQ(one_f_one_b(0, 2, 3), first);
  EXPECT_EQ(one_f_one_b(1, 2, 3), last);
  EXPECT_EQ(describe(first[3]), "recv_grad 0 from stage 1");
  EXPECT_EQ(describe(last[3]), "send_grad 0 to stage 0");
}

TEST(Schedule, OneStageAlternatesForwardAndBackward) {
  EXPECT_EQ(
      one_f_one_b(0, 1, 2),
      (std::vector<Action>{{K::forward, 0}, {K::backward, 0}, {K::forward, 1}, {K::backward, 1}}));
}

TEST(Schedule, RefusesBadArguments) {
  test::expect_error([] { one_f_one_b(2, 2, 4); }, "stage 2 of 2");
  test::expect_error([] { one_f_one_b(0, 2, 0); }, "0 micro-batches");
}

TEST(Schedule, RejectsBackwardBeforeForward) {
  Schedule schedule = one_f_one_b_all(2, 3);
  std::vector<Action>& last = schedule[1];
  std::iter_swap(find(last, {K::forward, 1}), find(last, {K::backward, 1}));
  expect_problem(schedule, 3, "stage 1: backward 1 runs before the forward");
}

TEST(Schedule, RejectsAMissingReceive) {
  Schedule schedule = one_f_one_b_all(3, 4);
  schedule[1].erase(find(schedule[1], {K::recv_activation, 2, 0}));
  expect_problem(schedule, 4, "stage 1: forward 2 runs before its activation is received");
}

TEST(Schedule, RejectsAMissingBackward) {
  Schedule schedule = one_f_one_b_all(2, 2);
  schedule[0].erase(find(schedule[0], {K::backward, 1}));
  expect_problem(schedule, 2, "stage 0 never does backward micro-batch 1");
}

TEST(Schedule, RejectsADuplicateForward) {
  Schedule schedule = one_f_one_b_all(1, 2);
  schedule[0].insert(schedule[0].begin() + 1, Action{K::forward, 0});
  expect_problem(schedule, 2, "stage 0: forward 0 appears twice");
}

TEST(Schedule, RejectsTooManyInFlight) {
  // GPipe (every forward, then every backward) holds all micro-batches at once.
  const int n_stages = 2, n_micro = 4;
  Schedule gpipe(n_stages);
  for (int m = 0; m < n_micro; ++m) {
    gpipe[0].insert(gpipe[0].end(), {{K::forward, m}, {K::send_activation, m, 1}});
    gpipe[1].insert(gpipe[1].end(), {{K::recv_activation, m, 0}, {K::forward, m}});
  }
  for (int m = 0; m < n_micro; ++m) {
    gpipe[0].insert(gpipe[0].end(), {{K::recv_grad, m, 1}, {K::backward, m}});
    gpipe[1].insert(gpipe[1].end(), {{K::backward, m}, {K::send_grad, m, 0}});
  }
  expect_problem(gpipe, n_micro, "stage 0: forward 2 leaves 3 micro-batches forwarded");
}

TEST(Schedule, RejectsSendingActivationBeforeReceivingTheGradient) {
  // The textbook order (send each activation right after its forward) deadlocks with blocking
  // transfers: stage 0 sends activation 1 while stage 1 sends gradient 0.
  Schedule schedule = one_f_one_b_all(2, 2);
  std::vector<Action>& first = schedule[0];
  std::iter_swap(find(first, {K::recv_grad, 0, 1}), find(first, {K::send_activation, 1, 1}));
  expect_problem(schedule, 2,
                 "deadlock with blocking transfers: stage 0 waits at send_activation 1 to stage "
                 "1; stage 1 waits at send_grad 0 to stage 0");
}

TEST(Schedule, RejectsTransfersThatPairUpTheWrongMicroBatches) {
  // Stage 0 sends activation 1 before activation 0; stage 1 receives them in order 0, 1, so each
  // would be taken for the other.
  Schedule schedule = one_f_one_b_all(3, 3);
  std::vector<Action>& first = schedule[0];
  first.erase(find(first, {K::send_activation, 0, 1}));
  first.insert(find(first, {K::send_activation, 1, 1}) + 1, Action{K::send_activation, 0, 1});
  expect_problem(schedule, 3,
                 "stage 0 at send_activation 1 to stage 1 meets stage 1 at recv_activation 0 from "
                 "stage 0: the transfers pair up the wrong micro-batches");
}

TEST(Schedule, RejectsTransfersToTheWrongStage) {
  Schedule schedule = one_f_one_b_all(3, 2);
  find(schedule[0], {K::send_activation, 0, 1})->peer = 2;
  expect_problem(schedule, 2, "stage 0: send_activation 0 to stage 2 must name stage 1");
  Schedule last_sends = one_f_one_b_all(2, 1);
  last_sends[1].push_back({K::send_activation, 0, 2});
  expect_problem(last_sends, 1, "has no such neighbour among 2 stages");
}

TEST(Schedule, RejectsEmptyInput) {
  EXPECT_EQ(validate_schedule({}, 1), "the schedule has no stages");
  expect_problem(one_f_one_b_all(2, 1), 0, "at least one micro-batch");
  expect_problem(one_f_one_b_all(2, 2), 3, "stage 0 never does forward micro-batch 2");
}

TEST(StageLayers, SplitsContiguouslyAndBalanced) {
  EXPECT_EQ(stage_layers(12, 4), (std::vector<LayerRange>{{0, 3}, {3, 3}, {6, 3}, {9, 3}}));
  EXPECT_EQ(stage_layers(10, 4), (std::vector<LayerRange>{{0, 3}, {3, 3}, {6, 2}, {8, 2}}));
  EXPECT_EQ(stage_layers(4, 4), (std::vector<LayerRange>{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));
  EXPECT_EQ(stage_layers(5, 1), (std::vector<LayerRange>{{0, 5}}));
  for (int layers = 1; layers <= 16; ++layers)
    for (int stages = 1; stages <= layers; ++stages) {
      const std::vector<LayerRange> ranges = stage_layers(layers, stages);
      int next = 0;
      for (const LayerRange& r : ranges) {
        EXPECT_EQ(r.first, next);
        EXPECT_TRUE(r.count == layers / stages || r.count == layers / stages + 1);
        next += r.count;
      }
      EXPECT_EQ(next, layers);
    }
}

TEST(StageLayers, RefusesMoreStagesThanLayers) {
  test::expect_error(
      [] { stage_layers(4, 5); },
      "pp 5 exceeds the layer count 4: every pipeline stage needs at least one layer");
  test::expect_error([] { stage_layers(4, 0); }, "at least one stage");
}

}  // namespace
}  // namespace pha::parallel
