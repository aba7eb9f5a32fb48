// `pha data synthetic`: writes train/val shards of the built-in synthetic corpus (synthetic
// language mixed with multi-query associative recall), deterministic from the seed.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "io/synthetic_corpus.h"
#include "io/token_shard.h"
#include "launch/cmd_data.h"
#include "launch/command_options.h"

namespace po = boost::program_options;

namespace pha::launch {
namespace {

// Writes the first `n_tokens` tokens of `corpus` to a shard at `path`.
void write_corpus(const io::SyntheticCorpus& corpus, uint64_t n_tokens, const std::string& path) {
  io::TokenShardWriter writer(path, io::SyntheticCorpus::vocab_size(),
                              io::SyntheticCorpus::identity());
  for (uint64_t d = 0; writer.token_count() < n_tokens; ++d) {
    const auto doc = corpus.document(d);
    writer.append(
        std::span(doc).first(std::min<uint64_t>(doc.size(), n_tokens - writer.token_count())));
  }
  writer.close();
}

}  // namespace

int run_data_synthetic(const std::vector<std::string>& args) {
  std::string out;
  int64_t tokens = 0;
  uint64_t seed = 0;
  double val_fraction = 0.01;
  io::SyntheticOptions options;
  po::options_description opts(
      "pha data synthetic --out DIR --tokens N --seed S [options]\n"
      "Writes DIR/train.bin and DIR/val.bin of the built-in synthetic corpus (word-level\n"
      "vocabulary 'synthetic-v1', see docs/data.md); validation documents are drawn independently");
  // clang-format off
  opts.add_options()
      ("help,h", "print this help")
      ("out", po::value(&out)->required(), "output directory")
      ("tokens", po::value(&tokens)->required(), "tokens in all, training plus validation")
      ("seed", po::value(&seed)->required(), "the corpus seed")
      ("val-fraction", po::value(&val_fraction)->default_value(val_fraction),
       "share of the tokens for validation")
      ("mqar-fraction", po::value(&options.mqar_fraction)->default_value(options.mqar_fraction),
       "share of documents that are multi-query associative recall")
      ("mqar-max-pairs", po::value(&options.max_pairs)->default_value(options.max_pairs),
       "most key-value pairs in a recall document (at least min(4, this))")
      ("mqar-keys", po::value(&options.n_keys)->default_value(options.n_keys),
       "distinct keys recall draws from (fewer: easier)")
      ("mqar-values", po::value(&options.n_values)->default_value(options.n_values),
       "distinct values recall draws from (chance accuracy is 1/this)");
  // clang-format on
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  PHA_REQUIRE(tokens > 0, "--tokens must be positive, not {}", tokens);
  PHA_REQUIRE(val_fraction >= 0 && val_fraction <= 0.5, "--val-fraction {} is not in [0, 0.5]",
              val_fraction);
  PHA_REQUIRE(options.mqar_fraction >= 0 && options.mqar_fraction <= 1,
              "--mqar-fraction {} is not in [0, 1]", options.mqar_fraction);
  options.min_pairs = std::min(options.min_pairs, options.max_pairs);
  const auto n_val = static_cast<uint64_t>(std::llround(val_fraction * tokens));
  const uint64_t n_train = static_cast<uint64_t>(tokens) - n_val;
  PHA_REQUIRE(n_train > 0 && (val_fraction == 0 || n_val > 0),
              "--tokens {} is too few to split "
              "with --val-fraction {}",
              tokens, val_fraction);

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  PHA_REQUIRE(!ec, "cannot create the output directory '{}' (--out): {}", out, ec.message());
  const std::string train_path = out + "/train.bin", val_path = out + "/val.bin";
  write_corpus(io::SyntheticCorpus(seed, "train", options), n_train, train_path);
  if (n_val) write_corpus(io::SyntheticCorpus(seed, "val", options), n_val, val_path);
  fmt::print("synthetic corpus {} (vocabulary {}), seed {}, MQAR share {}\n",
             io::SyntheticCorpus::identity(), io::SyntheticCorpus::vocab_size(), seed,
             options.mqar_fraction);
  fmt::print("train: {} tokens -> {}\n", n_train, train_path);
  if (n_val) fmt::print("val:   {} tokens -> {}\n", n_val, val_path);
  return 0;
}

}  // namespace pha::launch
