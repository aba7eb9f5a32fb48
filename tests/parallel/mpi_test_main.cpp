// main() of the MPI test binaries: every rank runs every test; rank 0 prints gtest's report, the
// other ranks print only their failures (tagged with the rank), and the exit status is non-zero
// when any rank failed (MPI_Allreduce MAX of the failure flags), so no rank's failure is lost.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

namespace {

// Replaces gtest's printer on ranks > 0: silent except for failed assertions.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.message());
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed())
      std::fprintf(stderr, "[rank %d] FAILED %s.%s\n", rank_, info.test_suite_name(), info.name());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Test discovery runs the binary without mpirun: no MPI needed to list the tests.
  if (GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();

  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank > 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0, failed_ranks = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&failed, &failed_ranks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) {
    if (any_failed)
      std::printf("[mpi] FAILED on %d of %d ranks\n", failed_ranks, size);
    else
      std::printf("[mpi] passed on all %d ranks\n", size);
    std::fflush(stdout);
  }
  MPI_Finalize();
  return any_failed;
}
