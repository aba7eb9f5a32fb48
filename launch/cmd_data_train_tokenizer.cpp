// `pha data train-tokenizer`: trains a byte-level BPE on text files and writes it in the GPT-2
// format (vocab.json + merges.txt), which `--tokenizer bpe:DIR` then loads.
#include <fmt/format.h>

#include <chrono>

#include "core/error.h"
#include "io/bpe_tokenizer.h"
#include "io/bpe_trainer.h"
#include "io/text_reader.h"
#include "launch/cmd_data.h"
#include "launch/command_options.h"
#include "launch/progress_bar.h"

namespace po = boost::program_options;

namespace pha::launch {

int run_data_train_tokenizer(const std::vector<std::string>& args) {
  std::vector<std::string> inputs;
  std::string out;
  int64_t vocab_size = 0;
  po::options_description opts(
      "pha data train-tokenizer --input FILE... --vocab-size N --out DIR\n"
      "Trains a byte-level BPE (GPT-2 pre-tokenisation, merges by pair frequency) and writes\n"
      "DIR/vocab.json and DIR/merges.txt; use it with --tokenizer bpe:DIR");
  // clang-format off
  opts.add_options()
      ("help,h", "print this help")
      ("input", po::value(&inputs)->multitoken()->required(), "text files to learn from")
      ("vocab-size", po::value(&vocab_size)->required(),
       "tokens in the vocabulary: 256 bytes + merges + <|endoftext|> (at least 257)")
      ("out", po::value(&out)->required(), "directory for vocab.json and merges.txt");
  // clang-format on
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  PHA_REQUIRE(vocab_size >= 257 && vocab_size <= (int64_t{1} << 31),
              "--vocab-size {} is out of range: it counts the 256 bytes and <|endoftext|>, so give "
              "257 to 2147483648",
              vocab_size);

  uint64_t total_bytes = 0;
  for (const auto& input : inputs) total_bytes += io::TextChunkReader(input).size_bytes();
  const auto start = std::chrono::steady_clock::now();
  const auto seconds_since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  io::BpeTrainer trainer;
  ProgressBar progress("counting words", total_bytes, total_bytes >= (uint64_t{8} << 20));
  uint64_t bytes_done = 0;
  std::string chunk;
  for (const auto& input : inputs) {
    io::TextChunkReader reader(input);
    while (reader.next(chunk)) {
      trainer.add_text(chunk);
      progress.update(bytes_done + reader.bytes_read());
    }
    bytes_done += reader.size_bytes();
  }
  progress.finish();
  fmt::print("{} words ({} distinct) in {} of text\n", trainer.word_count(),
             trainer.distinct_words(), human_bytes(total_bytes));

  const io::BpeVocabulary vocab = trainer.train(static_cast<uint32_t>(vocab_size));
  if (vocab.token_bytes.size() < static_cast<size_t>(vocab_size))
    fmt::print(
        "note: the text has no pair left that occurs twice, so the vocabulary stops at {} "
        "tokens instead of {}\n",
        vocab.token_bytes.size(), vocab_size);
  io::write_bpe_files(vocab, out);
  const auto loaded = io::BpeTokenizer::load(out);  // proves the files load as written
  fmt::print("{} merges, vocabulary {} -> {}/vocab.json, {}/merges.txt ({}) in {:.1f} s\n",
             vocab.merges.size(), loaded->vocab_size(), out, out, loaded->identity(),
             seconds_since_start());
  return 0;
}

}  // namespace pha::launch
