#pragma once
// The rank grid: which (dp, tp, pp) coordinate each rank holds and which ranks form each group.
// Pure functions of the layout (no MPI), so every mapping is unit-tested on its own.
//
// Rank order (spec/parallel.md): tp fastest, then dp, then pp:
//   rank = tp_rank + tp * (dp_rank + dp * pp_rank)
// so a node of GPUs holds whole tp groups and pipeline stages are the outermost split.
#include <string>
#include <string_view>
#include <vector>

namespace pha::parallel {

struct Layout {
  int dp = 0;  // 0: inferred from the world size by resolve_layout
  int tp = 1;
  int pp = 1;

  int world_size() const { return dp * tp * pp; }
  std::string str() const;  // "dp 2 x tp 2 x pp 2"
  bool operator==(const Layout&) const = default;
};

// Checks the layout against the world size and fills an inferred dp (dp = world / (tp * pp)).
// Throws pha::Error with one message naming the numbers when they do not fit.
Layout resolve_layout(Layout requested, int world_size);

struct GridCoord {
  int dp = 0;
  int tp = 0;
  int pp = 0;
  bool operator==(const GridCoord&) const = default;
};

GridCoord coord_of(const Layout& layout, int rank);
int rank_of(const Layout& layout, GridCoord coord);

// The groups a rank belongs to. Members of a group differ only in the named coordinates.
enum class GroupKind {
  world,    // every rank
  tp,       // same dp and pp: the shards of one layer
  dp,       // same tp and pp: replicas that average gradients
  pp,       // same dp and tp: the stages of one pipeline
  stage,    // same pp (dp x tp): every rank that holds this pipeline stage
  replica,  // same dp (tp x pp): the ranks that together hold one full model copy
};
inline constexpr GroupKind all_group_kinds[] = {GroupKind::world, GroupKind::tp,
                                                GroupKind::dp,    GroupKind::pp,
                                                GroupKind::stage, GroupKind::replica};

std::string_view group_name(GroupKind kind);

// Where a rank sits: which group of this kind (0 .. group_count - 1) and its rank inside it.
// The local rank equals the rank's coordinate along the group (tp_rank in a tp group; in the
// two-dimensional groups the faster coordinate varies fastest, as in the world order).
struct GroupPosition {
  int group = 0;
  int local_rank = 0;
};
GroupPosition group_position(const Layout& layout, GroupKind kind, int rank);
int group_size(const Layout& layout, GroupKind kind);
int group_count(const Layout& layout, GroupKind kind);

// World ranks of group `group`, ordered by local rank.
std::vector<int> group_members(const Layout& layout, GroupKind kind, int group);
// Every group of this kind, by group index.
std::vector<std::vector<int>> all_groups(const Layout& layout, GroupKind kind);

}  // namespace pha::parallel
