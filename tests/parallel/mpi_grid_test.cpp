// RankGrid on 8 ranks: for every layout of the world, each sub-communicator holds exactly the
// ranks grid.h lists, in that order (so the local rank is the coordinate), and reduces over them.
#include <gtest/gtest.h>
#include <mpi.h>

#include <numeric>

#include "parallel/rank_grid.h"
#include "tests/test_util.h"

namespace pha::parallel {
namespace {

// World ranks of comm's members, by local rank.
std::vector<int> world_ranks_of(MPI_Comm comm) {
  MPI_Group group, world_group;
  EXPECT_EQ(MPI_Comm_group(comm, &group), MPI_SUCCESS);
  EXPECT_EQ(MPI_Comm_group(MPI_COMM_WORLD, &world_group), MPI_SUCCESS);
  int size = 0;
  MPI_Group_size(group, &size);
  std::vector<int> local(static_cast<size_t>(size)), world(static_cast<size_t>(size));
  std::iota(local.begin(), local.end(), 0);
  EXPECT_EQ(MPI_Group_translate_ranks(group, size, local.data(), world_group, world.data()),
            MPI_SUCCESS);
  MPI_Group_free(&group);
  MPI_Group_free(&world_group);
  return world;
}

TEST(MpiGrid, SubCommunicatorsMatchTheGridForEveryLayout) {
  int world_size = 0, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  ASSERT_EQ(world_size, 8) << "run with 8 ranks";
  for (int tp = 1; tp <= world_size; ++tp) {
    for (int pp = 1; tp * pp <= world_size; ++pp) {
      for (int cp = 1; tp * pp * cp <= world_size; cp *= 2) {
        if (world_size % (tp * pp * cp) != 0) continue;
        RankGrid grid(MPI_COMM_WORLD, Layout{0, tp, pp, cp});
        const Layout& layout = grid.layout();
        SCOPED_TRACE(layout.str());
        EXPECT_EQ(layout.dp * tp * pp * cp, world_size);
        EXPECT_EQ(grid.rank(), rank);
        EXPECT_EQ(rank_of(layout, grid.coord()), rank);
        for (const GroupKind kind : all_group_kinds) {
          SCOPED_TRACE(std::string(group_name(kind)));
          const GroupPosition where = group_position(layout, kind, rank);
          const std::vector<int> members = group_members(layout, kind, where.group);
          EXPECT_EQ(world_ranks_of(grid.comm(kind)), members);

          MpiCommunicator comm = grid.communicator(kind, 60);
          EXPECT_EQ(comm.rank(), where.local_rank);
          EXPECT_EQ(comm.size(), static_cast<int>(members.size()));
          EXPECT_EQ(comm.name(), group_name(kind));
          const int64_t sum = comm.all_reduce_scalar(static_cast<int64_t>(rank), ReduceOp::sum);
          EXPECT_EQ(sum, std::accumulate(members.begin(), members.end(), int64_t{0}));
        }
        const GridCoord c = grid.coord();
        EXPECT_EQ(grid.communicator(GroupKind::tp).rank(), c.tp);
        EXPECT_EQ(grid.communicator(GroupKind::dp).rank(), c.dp);
        EXPECT_EQ(grid.communicator(GroupKind::pp).rank(), c.pp);
        EXPECT_EQ(grid.communicator(GroupKind::cp).rank(), c.cp);
      }
    }
  }
}

TEST(MpiGrid, RefusesALayoutThatDoesNotFitOnEveryRank) {
  test::expect_error(
      [] {
        RankGrid grid(MPI_COMM_WORLD, Layout{0, 3, 1});
      },
      "world size 8 is not divisible by tp x pp x cp = 3 x 1 x 1 = 3");
  test::expect_error(
      [] {
        RankGrid grid(MPI_COMM_WORLD, Layout{2, 2, 1});
      },
      "does not match the world size 8");
}

}  // namespace
}  // namespace pha::parallel
