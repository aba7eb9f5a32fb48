#pragma once
// The rank grid: which (dp, tp, pp, cp) coordinate each rank holds and which ranks form each
// group. Pure functions of the layout (no MPI), so every mapping is unit-tested on its own.
//
// Rank order (spec/parallel.md, extended by context parallelism): tp fastest, then cp, then dp,
// then pp:
//   rank = tp_rank + tp * (cp_rank + cp * (dp_rank + dp * pp_rank))
// so a node of GPUs holds whole tp groups and, next, whole cp groups (ring attention moves K/V
// every layer, more than dp moves once a step), and pipeline stages are the outermost split.
// With cp = 1 this is the spec's order. The dp x cp ranks of one (tp, pp) coordinate are
// contiguous in the order, and together they reduce gradients (GroupKind::dp_cp).
#include <string>
#include <string_view>
#include <vector>

namespace pha::parallel {

struct Layout {
  int dp = 0;  // 0: inferred from the world size by resolve_layout
  int tp = 1;
  int pp = 1;
  int cp = 1;  // context-parallel ranks: each holds 1/cp of every sequence

  int world_size() const { return dp * tp * pp * cp; }
  std::string str() const;  // "dp 2 x tp 2 x pp 2" (" x cp 2" when cp > 1)
  bool operator==(const Layout&) const = default;
};

// Checks the layout against the world size and fills an inferred dp (dp = world / (tp*pp*cp)).
// Throws pha::Error with one message naming the numbers when they do not fit.
Layout resolve_layout(Layout requested, int world_size);

struct GridCoord {
  int dp = 0;
  int tp = 0;
  int pp = 0;
  int cp = 0;
  bool operator==(const GridCoord&) const = default;
};

GridCoord coord_of(const Layout& layout, int rank);
int rank_of(const Layout& layout, GridCoord coord);

// The groups a rank belongs to. Members of a group differ only in the named coordinates.
enum class GroupKind {
  world,    // every rank
  tp,       // same dp, pp and cp: the shards of one layer
  dp,       // same tp, pp and cp: replicas that see different samples
  pp,       // same dp, tp and cp: the stages of one pipeline
  stage,    // same pp (dp x cp x tp): every rank that holds this pipeline stage
  replica,  // same dp and cp (tp x pp): the ranks that together hold one full model copy
  cp,       // same dp, tp and pp: the ranks that split one sequence
  dp_cp,    // same tp and pp (dp x cp): every rank holding the same parameters; reduces gradients
};
inline constexpr GroupKind all_group_kinds[] = {
    GroupKind::world, GroupKind::tp,      GroupKind::dp, GroupKind::pp,
    GroupKind::stage, GroupKind::replica, GroupKind::cp, GroupKind::dp_cp};

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
