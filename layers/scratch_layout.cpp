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
  constexpr size_t kAlign = SizeTable::kAlignment;
  const auto aligned = [&](const TensorSpec& e) {
    const size_t b = static_cast<size_t>(e.shape.numel()) * dtype_size(e.dtype);
    return (b + kAlign - 1) / kAlign * kAlign;
  };
  ScratchLayout layout;
  layout.offsets.resize(table.size());
  // The shared region first, then every exclusive scope from the same start.
  size_t shared_end = 0;
  for (size_t i = 0; i < table.size(); ++i)
    if (scratch_scope(table.entries()[i].name) == ScratchScope::shared) {
      layout.offsets[i] = shared_end;
      shared_end += aligned(table.entries()[i]);
    }
  size_t end = shared_end;
  for (ScratchScope scope :
       {ScratchScope::attention, ScratchScope::gss, ScratchScope::ffn, ScratchScope::head}) {
    size_t at = shared_end;
    for (size_t i = 0; i < table.size(); ++i)
      if (scratch_scope(table.entries()[i].name) == scope) {
        layout.offsets[i] = at;
        at += aligned(table.entries()[i]);
      }
    end = std::max(end, at);
  }
  layout.bytes = end;
  return layout;
}

}  // namespace pha
