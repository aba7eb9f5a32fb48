#include "launch/study_data.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/token_shard.h"
#include "io/tokenizer.h"
#include "launch/cmd_data.h"

namespace fs = std::filesystem;

namespace pha::launch {
namespace {

// "FILE SIZE" per line: what the shards were made from.
std::string sources_text(const std::vector<std::string>& files) {
  std::string text;
  for (const std::string& f : files)
    text += fmt::format("{} {}\n", fs::absolute(f).lexically_normal().string(), fs::file_size(f));
  return text;
}

uint64_t total_bytes(const std::vector<std::string>& files) {
  uint64_t n = 0;
  for (const std::string& f : files) n += fs::file_size(f);
  return n;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a `pha data` subcommand in this process; its own messages name what failed.
void run_data_step(int (*step)(const std::vector<std::string>&), std::vector<std::string> args,
                   const std::string& what) {
  fmt::print("study: {}\n", what);
  std::fflush(stdout);
  PHA_REQUIRE(step(args) == 0, "preparing the study's data failed: {}", what);
}

void make_shard(const std::vector<std::string>& inputs, const fs::path& out,
                const std::string& tokenizer, const std::string& what) {
  std::vector<std::string> args{"--input"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  args.insert(args.end(), {"--out", out.string(), "--tokenizer", tokenizer, "--val-fraction", "0"});
  run_data_step(run_data_prepare, args, what);
}

}  // namespace

StudyData prepare_study_data(const StudySpec& spec, const StudyTokenizer& tok) {
  const fs::path dir = fs::path(spec.dir) / "data" / tok.name;
  fs::create_directories(dir);
  const std::string sources =
      "train:\n" + sources_text(spec.train_files) + "eval:\n" + sources_text(spec.eval_files);
  const fs::path sources_file = dir / "sources.txt";
  if (fs::exists(sources_file)) {
    PHA_REQUIRE(read_text(sources_file) == sources,
                "the data in {} was prepared from other corpus files (see {}): remove {} to "
                "prepare it again, or use another study dir",
                dir.string(), sources_file.string(), dir.string());
  } else {
    std::ofstream(sources_file) << sources;
  }
  StudyData d;
  d.tokenizer_spec = "byte";
  if (tok.bpe_vocab > 0) {
    const fs::path bpe = dir / "tokenizer";
    d.tokenizer_spec = "bpe:" + bpe.string();
    if (!fs::exists(bpe / "vocab.json") || !fs::exists(bpe / "merges.txt")) {
      // Trained into a temporary directory and renamed: a directory that exists is complete.
      const fs::path tmp = dir / "tokenizer.partial";
      fs::remove_all(tmp);
      std::vector<std::string> args{"--input"};
      args.insert(args.end(), spec.train_files.begin(), spec.train_files.end());
      args.insert(args.end(),
                  {"--vocab-size", std::to_string(tok.bpe_vocab), "--out", tmp.string()});
      run_data_step(run_data_train_tokenizer, args,
                    fmt::format("training the {}-token BPE on the training text", tok.bpe_vocab));
      fs::remove_all(bpe);
      fs::rename(tmp, bpe);
    }
  }
  d.train_shard = (dir / "train.bin").string();
  d.eval_shard = (dir / "eval.bin").string();
  if (!fs::exists(d.train_shard))
    make_shard(spec.train_files, d.train_shard, d.tokenizer_spec,
               fmt::format("tokenizing the training text ({})", tok.name));
  if (!fs::exists(d.eval_shard))
    make_shard(spec.eval_files, d.eval_shard, d.tokenizer_spec,
               fmt::format("tokenizing the evaluation text ({})", tok.name));
  d.vocab = io::make_tokenizer(d.tokenizer_spec)->vocab_size();
  d.train_tokens = io::TokenShard(d.train_shard, io::TokenShard::kAnyVocab).size();
  d.eval_tokens = io::TokenShard(d.eval_shard, io::TokenShard::kAnyVocab).size();
  d.train_bytes = total_bytes(spec.train_files);
  d.eval_bytes = total_bytes(spec.eval_files);
  return d;
}

uint64_t eval_target_bytes(const StudyData& data, int64_t seq_len, int64_t windows) {
  const auto tokenizer = io::make_tokenizer(data.tokenizer_spec);
  std::vector<uint64_t> bytes_of(tokenizer->vocab_size());
  for (uint32_t id = 0; id < tokenizer->vocab_size(); ++id)
    bytes_of[id] = tokenizer->decode(std::span<const uint32_t>(&id, 1)).size();
  if (const auto eot = tokenizer->end_of_text()) bytes_of[*eot] = 0;
  const io::TokenShard shard(data.eval_shard, tokenizer->vocab_size());
  const io::TokenView tokens = shard.tokens();
  uint64_t bytes = 0;
  for (int64_t w = 0; w < windows; ++w)
    for (int64_t t = 1; t < seq_len; ++t) {
      const uint64_t i = static_cast<uint64_t>(w * seq_len + t);
      if (i < tokens.size) bytes += bytes_of[tokens[i]];
    }
  return bytes;
}

}  // namespace pha::launch
