#include "launch/metric_scalars.h"

#include <fmt/format.h>

namespace pha::launch {

io::Scalars record_scalars(const std::string& kind, const JsonRecord& record) {
  io::Scalars out;
  for (const auto& [key, value] : record.numbers())
    if (key != "step") out.emplace_back(kind + "/" + key, value);
  return out;
}

io::Scalars mixing_scalars(const ModelConfig& cfg, int64_t first_layer,
                           const std::vector<std::vector<float>>& weights) {
  std::vector<std::string> branches;
  if (cfg.block.attention) branches.emplace_back("attention");
  if (cfg.block.gss) branches.emplace_back("gss");
  if (cfg.block.ffn) branches.emplace_back("ffn");
  io::Scalars out;
  for (size_t l = 0; l < weights.size(); ++l) {
    const std::vector<float>& w = weights[l];                    // [n] or [n, d] (channel mixer)
    if (w.empty() || w.size() % branches.size() != 0) continue;  // serial blocks have none
    const size_t per_branch = w.size() / branches.size();
    for (size_t b = 0; b < branches.size(); ++b) {
      double sum = 0;
      for (size_t c = 0; c < per_branch; ++c) sum += w[b * per_branch + c];
      out.emplace_back(
          fmt::format("mixing/layer{}/{}", first_layer + static_cast<int64_t>(l), branches[b]),
          sum / static_cast<double>(per_branch));
    }
  }
  return out;
}

}  // namespace pha::launch
