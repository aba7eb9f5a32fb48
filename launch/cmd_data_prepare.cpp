// `pha data prepare`: tokenizes text files into a training shard and a validation shard.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "io/text_reader.h"
#include "io/token_shard.h"
#include "io/tokenizer.h"
#include "io/train_val_split.h"
#include "launch/cmd_data.h"
#include "launch/command_options.h"
#include "launch/progress_bar.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace pha::launch {
namespace {

// Progress is reported for inputs that take more than a moment.
constexpr uint64_t kProgressFromBytes = uint64_t{8} << 20;

struct OutputPaths {
  std::string train, val;
};

// --out FILE.bin writes FILE.bin and FILE.val.bin; any other --out is a directory that receives
// train.bin and val.bin.
OutputPaths output_paths(const std::string& out) {
  PHA_REQUIRE(!out.empty(), "--out is empty: give a directory or a file name ending in .bin");
  if (out.ends_with(".bin") && !fs::is_directory(out)) {
    const fs::path parent = fs::path(out).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    PHA_REQUIRE(!ec, "cannot create the directory of --out '{}': {}", out, ec.message());
    return {out, out.substr(0, out.size() - 4) + ".val.bin"};
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  PHA_REQUIRE(!ec, "cannot create the output directory '{}' (--out): {}", out, ec.message());
  return {(fs::path(out) / "train.bin").string(), (fs::path(out) / "val.bin").string()};
}

void refuse_overwriting_inputs(const std::vector<std::string>& inputs, const OutputPaths& out) {
  for (const auto& input : inputs)
    for (const auto& output : {out.train, out.val})
      PHA_REQUIRE(!fs::exists(output) || !fs::equivalent(input, output),
                  "--out would overwrite the input file '{}'", input);
}

}  // namespace

int run_data_prepare(const std::vector<std::string>& args) {
  std::vector<std::string> inputs;
  std::string out, tokenizer_spec;
  double val_fraction = 0.01;
  po::options_description opts(
      "pha data prepare --input FILE... --out DIR|FILE.bin --tokenizer SPEC [options]\n"
      "Tokenizes the input files (in order; documents are separated by the tokenizer's\n"
      "<|endoftext|> when it has one) into a training and a validation shard. --out DIR writes\n"
      "DIR/train.bin and DIR/val.bin; --out FILE.bin writes FILE.bin and FILE.val.bin");
  // clang-format off
  opts.add_options()
      ("help,h", "print this help")
      ("input", po::value(&inputs)->multitoken()->required(), "text files to tokenize")
      ("out", po::value(&out)->required(), "output directory, or shard file name ending in .bin")
      ("tokenizer", po::value(&tokenizer_spec)->required(),
       "byte | gpt2:DIR | bpe:DIR (DIR holds vocab.json and merges.txt) | synthetic")
      ("val-fraction", po::value(&val_fraction)->default_value(val_fraction),
       "share of the tokens for validation, spread evenly through the corpus (0: no val shard)");
  // clang-format on
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  PHA_REQUIRE(val_fraction >= 0 && val_fraction <= 0.5, "--val-fraction {} is not in [0, 0.5]",
              val_fraction);

  uint64_t total_bytes = 0;
  for (const auto& input : inputs) total_bytes += io::TextChunkReader(input).size_bytes();
  const auto tokenizer = io::make_tokenizer(tokenizer_spec);
  const OutputPaths paths = output_paths(out);
  refuse_overwriting_inputs(inputs, paths);

  io::TokenShardWriter train(paths.train, tokenizer->vocab_size(), tokenizer->identity());
  std::unique_ptr<io::TokenShardWriter> val;
  if (val_fraction > 0)
    val = std::make_unique<io::TokenShardWriter>(paths.val, tokenizer->vocab_size(),
                                                 tokenizer->identity());
  io::TrainValSplitter splitter(train, val.get(), val_fraction);
  ProgressBar progress("tokenizing", total_bytes, total_bytes >= kProgressFromBytes);
  const auto start = std::chrono::steady_clock::now();
  uint64_t bytes_done = 0;
  std::string chunk;
  for (const auto& input : inputs) {
    io::TextChunkReader reader(input);
    while (reader.next(chunk)) {
      splitter.add(tokenizer->encode(chunk));
      progress.update(bytes_done + reader.bytes_read());
    }
    bytes_done += reader.size_bytes();
    if (const auto eot = tokenizer->end_of_text()) splitter.add(std::span(&*eot, 1));
  }
  splitter.finish();
  progress.finish();
  PHA_REQUIRE(!val || val->token_count() > 0,
              "the input gives only {} tokens, too few to set {} "
              "aside for validation: use more text or --val-fraction 0",
              train.token_count(), val_fraction);
  train.close();
  if (val) val->close();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t total_tokens = train.token_count() + (val ? val->token_count() : 0);
  fmt::print(
      "tokenizer {} (vocabulary {}): {} from {} file(s) -> {} tokens ({:.2f} bytes/token) "
      "in {:.1f} s\n",
      tokenizer->identity(), tokenizer->vocab_size(), human_bytes(total_bytes), inputs.size(),
      total_tokens, static_cast<double>(total_bytes) / total_tokens, seconds);
  fmt::print("train: {} tokens -> {}\n", train.token_count(), paths.train);
  if (val) fmt::print("val:   {} tokens -> {}\n", val->token_count(), paths.val);
  return 0;
}

}  // namespace pha::launch
