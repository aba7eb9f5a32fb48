// A test that fails on rank 3 only (run by expect_abort.sh, never on its own): the MPI test main
// must print that rank's failure and exit non-zero although rank 0 passed.
#include <gtest/gtest.h>
#include <mpi.h>

TEST(FailureProbe, FailsOnRankThreeOnly) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  EXPECT_NE(rank, 3) << "deliberate failure on rank 3";
}
