#include "launch/eval_task.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/cpu/cpu_backend.h"
#include "launch/run_tokenizer.h"
#include "launch/task_scorer.h"
#include "launch/weights_file.h"

namespace pha::launch {

namespace {

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

int eval_task(const TrainConfig& cfg, const TaskEvalOptions& o) {
  const RunTokenizer run = run_tokenizer(cfg, o.tokenizer);
  const std::string& spec = run.spec;
  const io::Tokenizer* tokenizer = run.tokenizer.get();
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
