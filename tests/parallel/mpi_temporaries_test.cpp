// The rule the planner's comm_in_flight rests on (MpiCommunicator::all_reduce_copies,
// reduce_scatter_copies; docs/cli.md "pha plan"): Open MPI holds, per non-blocking collective in
// flight, temporaries of that many copies of the whole message, and none for an in-place
// all-gather. Measured as the growth of group rank 0's peak resident set (VmHWM, reset through
// /proc/self/clear_refs) around the operations, within 10% of the rule; at 4 ranks and on a
// 2-rank group; with two operations in flight at once, the growth is at most the rule's bound.
#include <gtest/gtest.h>
#include <mpi.h>

#include <fstream>
#include <string>
#include <vector>

#include "parallel/mpi_communicator.h"

namespace pha {
namespace {

using parallel::MpiCommunicator;
using parallel::ReduceOp;

constexpr int64_t kElements = int64_t{1} << 22;  // 16 MiB of f32 per message
constexpr double kMessageBytes = 4.0 * kElements;

double status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) * 1024.0;
  ADD_FAILURE() << key << " not in /proc/self/status";
  return 0;
}

// Resets VmHWM to the current resident set (Linux >= 4.0).
void reset_peak() {
  std::ofstream("/proc/self/clear_refs") << "5";
  ASSERT_LE(status_bytes("VmHWM"), status_bytes("VmRSS") + 1048576.0)
      << "could not reset the peak resident set through /proc/self/clear_refs";
}

// Messages that are resident (written) before the measurement starts.
std::vector<std::vector<float>> messages(int n, int rank) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < n; ++i) out.emplace_back(kElements, 0.25f * static_cast<float>(rank + i + 1));
  return out;
}

Tensor view(std::vector<float>& v) {
  return Tensor(v.data(), DType::f32, Device::cpu, Shape{static_cast<int64_t>(v.size())});
}

// Starts `in_flight` collectives on `comm` at once, waits for all; returns this rank's VmHWM
// growth in messages.
template <typename Start>
double peak_growth(MpiCommunicator& comm, int in_flight, Start start) {
  std::vector<std::vector<float>> bufs = messages(in_flight, comm.rank());
  comm.barrier();
  reset_peak();
  const double before = status_bytes("VmHWM");
  std::vector<parallel::PendingReduce> pending;
  for (auto& b : bufs) pending.push_back(start(view(b)));
  for (auto& p : pending) comm.wait(p);
  const double growth = (status_bytes("VmHWM") - before) / kMessageBytes;
  comm.barrier();
  return growth;
}

// A group of the first `ranks` world ranks (the others get none).
struct Group {
  MPI_Comm comm = MPI_COMM_NULL;
  explicit Group(int ranks) {
    int world = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world);
    MPI_Comm_split(MPI_COMM_WORLD, world < ranks ? 0 : MPI_UNDEFINED, world, &comm);
  }
  ~Group() {
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

void expect_copies(double growth, double copies, const char* what) {
  EXPECT_NEAR(growth, copies, 0.1 * std::max(copies, 1.0)) << what;
}

// One measurement per test (a process of its own): freed temporaries stay in the allocator's
// heap, resident, and a later operation reuses them without raising the peak.
void check(int ranks, int in_flight, bool reduce_scatter) {
  Group group(ranks);
  if (group.comm == MPI_COMM_NULL) return;
  MpiCommunicator comm(group.comm, "dp", 120);
  // Unequal parts, as ZeRO-2's window places have.
  std::vector<int64_t> counts(static_cast<size_t>(ranks), kElements / (2 * ranks));
  counts[0] = kElements - (kElements / (2 * ranks)) * (ranks - 1);
  const double growth = peak_growth(comm, in_flight, [&](const Tensor& t) {
    return reduce_scatter ? comm.reduce_scatter_start(t, counts, ReduceOp::sum)
                          : comm.all_reduce_start(t, ReduceOp::sum);
  });
  const int copies =
      reduce_scatter ? MpiCommunicator::reduce_scatter_copies : MpiCommunicator::all_reduce_copies;
  const std::string what = std::string(reduce_scatter ? "reduce-scatter" : "all-reduce") + " on " +
                           std::to_string(ranks) + " ranks, " + std::to_string(in_flight) +
                           " in flight";
  if (comm.rank() != 0) return;
  // One operation writes all of its temporaries. Several in flight hold theirs from their start
  // to their end, but a message's pages become resident only as its data arrives, so whether
  // they overlap depends on timing: the rule is the bound, and at least one operation's reach.
  if (in_flight == 1) {
    expect_copies(growth, copies, what.c_str());
  } else {
    EXPECT_LE(growth, 1.1 * copies * in_flight) << what;
    EXPECT_GE(growth, 0.9 * copies) << what;
  }
}

TEST(MpiTemporaries, AllReduceOnFourRanksTwoInFlight) {
  check(4, 2, false);
}
TEST(MpiTemporaries, AllReduceOnTwoRanksOneInFlight) {
  check(2, 1, false);
}
TEST(MpiTemporaries, ReduceScatterOnFourRanksOneInFlight) {
  check(4, 1, true);
}
TEST(MpiTemporaries, ReduceScatterOnTwoRanksTwoInFlight) {
  check(2, 2, true);
}

TEST(MpiTemporaries, InPlaceAllGatherHoldsNone) {
  MpiCommunicator comm(MPI_COMM_WORLD, "dp", 120);
  std::vector<std::vector<float>> bufs = messages(1, comm.rank());
  const int64_t chunk = kElements / comm.size();
  comm.barrier();
  reset_peak();
  const double before = status_bytes("VmHWM");
  const Tensor whole = view(bufs[0]);
  comm.all_gather(
      Tensor(bufs[0].data() + chunk * comm.rank(), DType::f32, Device::cpu, Shape{chunk}), whole);
  const double growth = (status_bytes("VmHWM") - before) / kMessageBytes;
  if (comm.rank() == 0) expect_copies(growth, 0, "in-place all-gather");
}

}  // namespace
}  // namespace pha
