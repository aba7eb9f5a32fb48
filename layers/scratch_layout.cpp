#include "layers/scratch_layout.h"

#include <algorithm>
#include <array>

#include "core/error.h"

namespace pha {

ScratchScope scratch_scope(const std::string& name) {
  static const std::array<std::pair<const char*, ScratchScope>, 9> rules = {{
      {"model.", ScratchScope::shared},
      {"block.", ScratchScope::shared},
      {"mixer.", ScratchScope::shared},
      {"attn.", ScratchScope::attention},
      {"cp.ring.", ScratchScope::attention},
      {"gss.", ScratchScope::gss},
      {"cp.conv.", ScratchScope::gss},
      {"ffn.", ScratchScope::ffn},
      {"head.", ScratchScope::head},
  }};
  for (const auto& [prefix, scope] : rules)
    if (name.rfind(prefix, 0) == 0) return scope;
  fail("scratch '{}' has no scope in layers/scratch_layout.cpp: add its prefix there", name);
}

ScratchLayout scratch_layout(const SizeTable& table) {
  // One sub-table per scope, packed by SizeTable's own layout: the shared one from byte 0, every
  // exclusive one from the shared one's end.
  constexpr size_t kScopes = static_cast<size_t>(ScratchScope::head) + 1;
  std::array<SizeTable, kScopes> scopes;
  std::array<std::vector<size_t>, kScopes> members;  // table indices of each scope's entries
  for (size_t i = 0; i < table.size(); ++i) {
    const TensorSpec& e = table.entries()[i];
    const auto s = static_cast<size_t>(scratch_scope(e.name));
    scopes[s].add(e.name, e.shape, e.dtype);
    members[s].push_back(i);
  }
  ScratchLayout layout;
  layout.offsets.resize(table.size());
  const size_t shared_end = scopes[0].total_bytes();
  layout.bytes = shared_end;
  for (size_t s = 0; s < kScopes; ++s) {
    const size_t base = s == 0 ? 0 : shared_end;
    const std::vector<size_t> offsets = scopes[s].byte_offsets();
    for (size_t k = 0; k < offsets.size(); ++k) layout.offsets[members[s][k]] = base + offsets[k];
    layout.bytes = std::max(layout.bytes, base + scopes[s].total_bytes());
  }
  return layout;
}

}  // namespace pha
