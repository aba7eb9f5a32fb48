#include "launch/eval_task.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/cpu/cpu_backend.h"
#include "io/token_shard.h"
#include "launch/task_scorer.h"
#include "launch/weights_file.h"

namespace pha::launch {

namespace {

std::string shard_identity(const std::string& path) {
  return io::TokenShard(path, io::TokenShard::kAnyVocab).tokenizer_identity();
}

// {"item": 0, "line": 1, "answer": 2, "pick_sum": 2, "pick_per_token": 1, "logprob": [...],
//  "tokens": [...], "truncated": false}
std::string item_line(size_t index, const io::TaskItem& item, const ItemScores& s) {
  std::vector<std::string> logprob;
  for (double v : s.logprob) logprob.push_back(fmt::format("{:.17g}", v));
  return fmt::format(
      "{{\"item\":{},\"line\":{},\"answer\":{},\"pick_sum\":{},\"pick_per_token\":{},"
      "\"logprob\":[{}],\"tokens\":[{}],\"truncated\":{}}}\n",
      index, item.line, item.answer, s.pick_sum, s.pick_per_token, fmt::join(logprob, ","),
      fmt::join(s.tokens, ","), s.truncated ? "true" : "false");
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

int eval_task(const TrainConfig& cfg, const TaskEvalOptions& o) {
  const std::string spec = o.tokenizer.empty() ? run_tokenizer_spec(cfg) : o.tokenizer;
  const std::unique_ptr<io::Tokenizer> tokenizer = io::make_tokenizer(spec);
  // The run's tokenizer, when the run says which it was: a --tokenizer must be the same one.
  const std::string& data = cfg.data.train;
  const std::string run_identity = data == "synthetic" ? io::make_tokenizer("synthetic")->identity()
                                   : std::filesystem::exists(data) ? shard_identity(data)
                                                                   : std::string();
  PHA_REQUIRE(run_identity.empty() || run_identity == tokenizer->identity(),
              "the tokenizer {} (identity '{}') is not the run's: it trained on '{}' tokenized "
              "with '{}'",
              spec, tokenizer->identity(), data, run_identity);
  const std::vector<io::TaskItem> items = io::read_task_file(o.task);
  std::vector<std::vector<ScoredSequence>> sequences;
  for (const io::TaskItem& item : items)
    sequences.push_back(
        tokenize_item(item, *tokenizer, cfg.model.max_seq_len, cfg.model.vocab, o.task));
  const auto [batch, seq_len] = task_shape(sequences);
  CpuBackend backend;
  Model model(backend, cfg.model, batch, seq_len);
  load_weights(o.weights, model, MPI_COMM_WORLD);
  const TaskResult r = score_task(model, items, sequences);
  if (r.truncated > 0)
    fmt::print(
        "note: {} of {} items were longer than max_seq_len = {} tokens; their contexts lost "
        "tokens from the left\n",
        r.truncated, items.size(), cfg.model.max_seq_len);
  fmt::print(
      "task {} with {}: {} items | accuracy {:.4f} by log-likelihood sum ({} right) | {:.4f} "
      "by log-likelihood per token ({} right) | tokenizer {}\n",
      o.task, o.weights, items.size(), r.accuracy_sum(), r.correct_sum, r.accuracy_per_token(),
      r.correct_per_token, spec);
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    for (size_t i = 0; i < items.size(); ++i) out << item_line(i, items[i], r.items[i]);
    out.close();
    PHA_REQUIRE(out.good(), "cannot write '{}': {}", o.out, std::strerror(errno));
    fmt::print("per-item scores: {}\n", o.out);
  }
  return 0;
}

}  // namespace pha::launch
