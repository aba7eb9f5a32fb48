// The rank grid's pure mapping: rank <-> (dp, tp, pp), the groups, and layout refusals.
#include "parallel/grid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/test_util.h"

namespace pha::parallel {
namespace {

using Groups = std::vector<std::vector<int>>;

// Every (dp, tp, pp, cp) with at most 8 ranks.
std::vector<Layout> small_layouts() {
  std::vector<Layout> layouts;
  for (int world = 1; world <= 8; ++world)
    for (int tp = 1; tp <= world; ++tp)
      for (int pp = 1; tp * pp <= world; ++pp)
        for (int cp = 1; tp * pp * cp <= world; ++cp)
          if (world % (tp * pp * cp) == 0) layouts.push_back({world / (tp * pp * cp), tp, pp, cp});
  return layouts;
}

// The coordinates a group of this kind lets vary; the others are equal across its members.
bool same_group(GroupKind kind, GridCoord a, GridCoord b) {
  switch (kind) {
    case GroupKind::world:
      return true;
    case GroupKind::tp:
      return a.dp == b.dp && a.pp == b.pp && a.cp == b.cp;
    case GroupKind::dp:
      return a.tp == b.tp && a.pp == b.pp && a.cp == b.cp;
    case GroupKind::pp:
      return a.tp == b.tp && a.dp == b.dp && a.cp == b.cp;
    case GroupKind::stage:
      return a.pp == b.pp;
    case GroupKind::replica:
      return a.dp == b.dp && a.cp == b.cp;
    case GroupKind::cp:
      return a.tp == b.tp && a.dp == b.dp && a.pp == b.pp;
    case GroupKind::dp_cp:
      return a.tp == b.tp && a.pp == b.pp;
  }
  return false;
}

TEST(Grid, TwoByTwoByTwoGroupsMatchTheSpec) {
  const Layout layout{2, 2, 2};
  EXPECT_EQ(all_groups(layout, GroupKind::tp), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::dp), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::pp), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::stage), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::replica), (Groups{{0, 1, 4, 5}, {2, 3, 6, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::world), (Groups{{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(coord_of(layout, 6), (GridCoord{1, 0, 1}));
  EXPECT_EQ(rank_of(layout, GridCoord{0, 1, 1}), 5);
}

TEST(Grid, CpTwoByTpTwoByDpTwoGroups) {
  const Layout layout{2, 2, 1, 2};  // dp 2, tp 2, pp 1, cp 2
  EXPECT_EQ(all_groups(layout, GroupKind::tp), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::cp), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::dp), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::dp_cp), (Groups{{0, 2, 4, 6}, {1, 3, 5, 7}}));
  EXPECT_EQ(all_groups(layout, GroupKind::replica), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(coord_of(layout, 6), (GridCoord{1, 0, 0, 1}));
  EXPECT_EQ(group_position(layout, GroupKind::dp_cp, 6).local_rank, 3);  // cp + cp * dp
}

TEST(Grid, RankOrderIsTpFastestThenCpThenDpThenPp) {
  for (const Layout& layout : small_layouts()) {
    SCOPED_TRACE(layout.str());
    for (int rank = 0; rank < layout.world_size(); ++rank) {
      const GridCoord c = coord_of(layout, rank);
      EXPECT_EQ(rank, c.tp + layout.tp * (c.cp + layout.cp * (c.dp + layout.dp * c.pp)));
      EXPECT_EQ(rank_of(layout, c), rank);
    }
  }
}

TEST(Grid, GroupsPartitionTheWorldAndLocalRankIsTheCoordinate) {
  for (const Layout& layout : small_layouts()) {
    for (const GroupKind kind : all_group_kinds) {
      SCOPED_TRACE(layout.str() + " " + std::string(group_name(kind)));
      const Groups groups = all_groups(layout, kind);
      ASSERT_EQ(static_cast<int>(groups.size()), group_count(layout, kind));
      std::vector<int> seen;
      for (int g = 0; g < static_cast<int>(groups.size()); ++g) {
        const std::vector<int>& members = groups[static_cast<size_t>(g)];
        ASSERT_EQ(static_cast<int>(members.size()), group_size(layout, kind));
        for (int local = 0; local < static_cast<int>(members.size()); ++local) {
          const int rank = members[static_cast<size_t>(local)];
          const GroupPosition p = group_position(layout, kind, rank);
          EXPECT_EQ(p.group, g);
          EXPECT_EQ(p.local_rank, local);
          EXPECT_TRUE(same_group(kind, coord_of(layout, members[0]), coord_of(layout, rank)));
          seen.push_back(rank);
        }
        // Members are ordered like the world: by increasing rank.
        EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
      }
      std::sort(seen.begin(), seen.end());
      for (int rank = 0; rank < layout.world_size(); ++rank)
        EXPECT_EQ(seen[static_cast<size_t>(rank)], rank);
    }
  }
}

TEST(Grid, LocalRankInOneDimensionalGroupsIsTheCoordinate) {
  const Layout layout{2, 2, 2};
  for (int rank = 0; rank < 8; ++rank) {
    const GridCoord c = coord_of(layout, rank);
    EXPECT_EQ(group_position(layout, GroupKind::tp, rank).local_rank, c.tp);
    EXPECT_EQ(group_position(layout, GroupKind::dp, rank).local_rank, c.dp);
    EXPECT_EQ(group_position(layout, GroupKind::pp, rank).local_rank, c.pp);
  }
  const Layout with_cp{1, 2, 2, 2};
  for (int rank = 0; rank < 8; ++rank)
    EXPECT_EQ(group_position(with_cp, GroupKind::cp, rank).local_rank, coord_of(with_cp, rank).cp);
}

TEST(Grid, ResolveInfersDp) {
  EXPECT_EQ(resolve_layout({0, 2, 2}, 8), (Layout{2, 2, 2}));
  EXPECT_EQ(resolve_layout({0, 1, 1}, 5), (Layout{5, 1, 1}));
  EXPECT_EQ(resolve_layout({0, 4, 1}, 4), (Layout{1, 4, 1}));
  EXPECT_EQ(resolve_layout({2, 1, 3}, 6), (Layout{2, 1, 3}));
  EXPECT_EQ(resolve_layout({0, 2, 1, 2}, 8), (Layout{2, 2, 1, 2}));
}

TEST(Grid, ResolveRefusesLayoutsThatDoNotFit) {
  test::expect_error(
      [] {
        resolve_layout({0, 2, 2}, 6);
      },
      "world size 6 is not divisible by tp x pp x cp = 2 x 2 x 1 = 4");
  test::expect_error(
      [] {
        resolve_layout({2, 2, 2}, 4);
      },
      "dp x tp x pp x cp = 2 x 2 x 2 x 1 = 8 ranks does not match the world size 4");
  test::expect_error([] { resolve_layout({1, 0, 1}, 1); }, "tp, pp and cp must be at least 1");
  test::expect_error([] { resolve_layout({1, 1, 1, 0}, 1); }, "tp, pp and cp must be at least 1");
  test::expect_error([] { resolve_layout({-1, 1, 1}, 1); }, "dp at least 0");
  test::expect_error([] { resolve_layout({0, 1, 1}, 0); }, "world size must be at least 1");
}

TEST(Grid, RefusesRanksAndGroupsOutsideTheLayout) {
  const Layout layout{2, 2, 1};
  test::expect_error([&] { coord_of(layout, 4); }, "rank 4 is outside the 4 ranks");
  test::expect_error([&] { rank_of(layout, GridCoord{0, 2, 0}); }, "outside dp 2 x tp 2 x pp 1");
  test::expect_error([&] { group_members(layout, GroupKind::tp, 2); }, "tp group 2 does not exist");
  test::expect_error([] { coord_of(Layout{0, 2, 1}, 0); }, "is not resolved");
}

}  // namespace
}  // namespace pha::parallel
