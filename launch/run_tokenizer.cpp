#include "launch/run_tokenizer.h"

#include <filesystem>

#include "io/token_shard.h"

namespace pha::launch {

namespace {

std::string shard_identity(const std::string& path) {
  return io::TokenShard(path, io::TokenShard::kAnyVocab).tokenizer_identity();
}

}  // namespace

std::string run_tokenizer_spec(const TrainConfig& cfg) {
  const std::string& data = cfg.data.train;
  if (data == "synthetic") return "synthetic";
  PHA_REQUIRE(std::filesystem::exists(data),
              "the run's training shard '{}' is gone, so its tokenizer is unknown: give "
              "--tokenizer SPEC (byte, gpt2:DIR, bpe:DIR or synthetic)",
              data);
  const std::string identity = shard_identity(data);
  if (identity == "byte") return "byte";
  if (identity == io::make_tokenizer("synthetic")->identity()) return "synthetic";
  fail(
      "the run's training shard '{}' was tokenized with '{}': give --tokenizer gpt2:DIR or "
      "bpe:DIR naming that tokenizer's directory",
      data, identity);
}

RunTokenizer run_tokenizer(const TrainConfig& cfg, const std::string& spec) {
  RunTokenizer r;
  r.spec = spec.empty() ? run_tokenizer_spec(cfg) : spec;
  r.tokenizer = io::make_tokenizer(r.spec);
  // The run's tokenizer, when the run says which it was: a --tokenizer must be the same one.
  const std::string& data = cfg.data.train;
  const std::string run_identity = data == "synthetic" ? io::make_tokenizer("synthetic")->identity()
                                   : std::filesystem::exists(data) ? shard_identity(data)
                                                                   : std::string();
  PHA_REQUIRE(run_identity.empty() || run_identity == r.tokenizer->identity(),
              "the tokenizer {} (identity '{}') is not the run's: it trained on '{}' tokenized "
              "with '{}'",
              r.spec, r.tokenizer->identity(), data, run_identity);
  return r;
}

}  // namespace pha::launch
