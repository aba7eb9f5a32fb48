#include "parallel/grid.h"

#include <fmt/format.h>

#include "core/error.h"

namespace pha::parallel {

namespace {

void require_resolved(const Layout& layout) {
  PHA_REQUIRE(layout.dp >= 1 && layout.tp >= 1 && layout.pp >= 1 && layout.cp >= 1,
              "layout {} is not resolved: call resolve_layout first", layout.str());
}

}  // namespace

std::string Layout::str() const {
  if (cp > 1) return fmt::format("dp {} x tp {} x pp {} x cp {}", dp, tp, pp, cp);
  return fmt::format("dp {} x tp {} x pp {}", dp, tp, pp);
}

Layout resolve_layout(Layout requested, int world_size) {
  PHA_REQUIRE(world_size >= 1, "the world size must be at least 1, got {}", world_size);
  PHA_REQUIRE(requested.tp >= 1 && requested.pp >= 1 && requested.cp >= 1 && requested.dp >= 0,
              "layout {}: tp, pp and cp must be at least 1 and dp at least 0 (0 infers it)",
              requested.str());
  Layout layout = requested;
  const int model_ranks = requested.tp * requested.pp * requested.cp;
  if (requested.dp == 0) {
    PHA_REQUIRE(world_size % model_ranks == 0,
                "world size {} is not divisible by tp x pp x cp = {} x {} x {} = {}: dp cannot be "
                "inferred",
                world_size, requested.tp, requested.pp, requested.cp, model_ranks);
    layout.dp = world_size / model_ranks;
  }
  PHA_REQUIRE(layout.world_size() == world_size,
              "layout dp x tp x pp x cp = {} x {} x {} x {} = {} ranks does not match the world "
              "size {}",
              layout.dp, layout.tp, layout.pp, layout.cp, layout.world_size(), world_size);
  return layout;
}

GridCoord coord_of(const Layout& layout, int rank) {
  require_resolved(layout);
  PHA_REQUIRE(rank >= 0 && rank < layout.world_size(), "rank {} is outside the {} ranks of {}",
              rank, layout.world_size(), layout.str());
  GridCoord c;
  c.tp = rank % layout.tp;
  c.cp = (rank / layout.tp) % layout.cp;
  c.dp = (rank / (layout.tp * layout.cp)) % layout.dp;
  c.pp = rank / (layout.tp * layout.cp * layout.dp);
  return c;
}

int rank_of(const Layout& layout, GridCoord c) {
  require_resolved(layout);
  PHA_REQUIRE(c.dp >= 0 && c.dp < layout.dp && c.tp >= 0 && c.tp < layout.tp && c.pp >= 0 &&
                  c.pp < layout.pp && c.cp >= 0 && c.cp < layout.cp,
              "grid coordinate (dp {}, tp {}, pp {}, cp {}) is outside {}", c.dp, c.tp, c.pp, c.cp,
              layout.str());
  return c.tp + layout.tp * (c.cp + layout.cp * (c.dp + layout.dp * c.pp));
}

std::string_view group_name(GroupKind kind) {
  switch (kind) {
    case GroupKind::world:
      return "world";
    case GroupKind::tp:
      return "tp";
    case GroupKind::dp:
      return "dp";
    case GroupKind::pp:
      return "pp";
    case GroupKind::stage:
      return "stage";
    case GroupKind::replica:
      return "replica";
    case GroupKind::cp:
      return "cp";
    case GroupKind::dp_cp:
      return "dp_cp";
  }
  return "?";
}

GroupPosition group_position(const Layout& layout, GroupKind kind, int rank) {
  const GridCoord c = coord_of(layout, rank);
  switch (kind) {
    case GroupKind::world:
      return {0, rank};
    case GroupKind::tp:
      return {c.cp + layout.cp * (c.dp + layout.dp * c.pp), c.tp};
    case GroupKind::dp:
      return {c.tp + layout.tp * (c.cp + layout.cp * c.pp), c.dp};
    case GroupKind::pp:
      return {c.tp + layout.tp * (c.cp + layout.cp * c.dp), c.pp};
    case GroupKind::stage:
      return {c.pp, c.tp + layout.tp * (c.cp + layout.cp * c.dp)};
    case GroupKind::replica:
      return {c.cp + layout.cp * c.dp, c.tp + layout.tp * c.pp};
    case GroupKind::cp:
      return {c.tp + layout.tp * (c.dp + layout.dp * c.pp), c.cp};
    case GroupKind::dp_cp:
      return {c.tp + layout.tp * c.pp, c.cp + layout.cp * c.dp};
  }
  fail("unknown group kind {}", static_cast<int>(kind));
}

int group_size(const Layout& layout, GroupKind kind) {
  require_resolved(layout);
  switch (kind) {
    case GroupKind::world:
      return layout.world_size();
    case GroupKind::tp:
      return layout.tp;
    case GroupKind::dp:
      return layout.dp;
    case GroupKind::pp:
      return layout.pp;
    case GroupKind::stage:
      return layout.dp * layout.cp * layout.tp;
    case GroupKind::replica:
      return layout.tp * layout.pp;
    case GroupKind::cp:
      return layout.cp;
    case GroupKind::dp_cp:
      return layout.dp * layout.cp;
  }
  fail("unknown group kind {}", static_cast<int>(kind));
}

int group_count(const Layout& layout, GroupKind kind) {
  return layout.world_size() / group_size(layout, kind);
}

std::vector<int> group_members(const Layout& layout, GroupKind kind, int group) {
  PHA_REQUIRE(group >= 0 && group < group_count(layout, kind),
              "{} group {} does not exist in {} ({} groups)", group_name(kind), group, layout.str(),
              group_count(layout, kind));
  std::vector<int> members(static_cast<size_t>(group_size(layout, kind)), -1);
  for (int rank = 0; rank < layout.world_size(); ++rank) {
    const GroupPosition p = group_position(layout, kind, rank);
    if (p.group == group) members[static_cast<size_t>(p.local_rank)] = rank;
  }
  return members;
}

std::vector<std::vector<int>> all_groups(const Layout& layout, GroupKind kind) {
  std::vector<std::vector<int>> groups;
  for (int g = 0; g < group_count(layout, kind); ++g)
    groups.push_back(group_members(layout, kind, g));
  return groups;
}

}  // namespace pha::parallel
