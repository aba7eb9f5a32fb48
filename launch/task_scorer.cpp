#include "launch/task_scorer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pha::launch {

namespace {

// The last forward's logits [B*T, V_pad] on the host, in double (f32 or f64 models).
std::vector<double> host_logits(Model& model) {
  const Tensor& logits = model.logits(0);
  if (logits.dtype == DType::f64) {
    std::vector<double> out(static_cast<size_t>(logits.numel()));
    model.backend().copy_to_host(logits, out.data());
    return out;
  }
  const std::vector<float> f32 = model.backend().to_host_f32(logits);
  return std::vector<double>(f32.begin(), f32.end());
}

size_t argmax(const std::vector<double>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

std::vector<ScoredSequence> tokenize_item(const io::TaskItem& item, const io::Tokenizer& tokenizer,
                                          int64_t max_seq_len, int64_t vocab,
                                          const std::string& source) {
  const std::string where = fmt::format("{} line {}", source, item.line);
  auto ids = [&](const std::string& text, const char* what) {
    std::vector<int32_t> out;
    for (uint32_t id : tokenizer.encode(text)) {
      PHA_REQUIRE(id < static_cast<uint32_t>(vocab),
                  "{}: the {} has token id {}, beyond the model's vocabulary of {}: another "
                  "tokenizer than the run's?",
                  where, what, id, vocab);
      out.push_back(static_cast<int32_t>(id));
    }
    return out;
  };
  const std::vector<int32_t> context = ids(item.context, "context");
  PHA_REQUIRE(!context.empty(),
              "{}: the context is empty: the first choice token needs at least one token before "
              "it",
              where);
  std::vector<ScoredSequence> out;
  for (size_t c = 0; c < item.choices.size(); ++c) {
    const std::vector<int32_t> choice = ids(item.choices[c], "choice");
    PHA_REQUIRE(!choice.empty(), "{}: choice {} is empty (no tokens)", where, c);
    PHA_REQUIRE(static_cast<int64_t>(choice.size()) < max_seq_len,
                "{}: choice {} has {} tokens; the model reads at most {} (max_seq_len) including "
                "one context token",
                where, c, choice.size(), max_seq_len);
    ScoredSequence s;
    s.tokens = context;
    s.tokens.insert(s.tokens.end(), choice.begin(), choice.end());
    const int64_t excess = static_cast<int64_t>(s.tokens.size()) - max_seq_len;
    if (excess > 0) {  // keep the end: the choice and the context nearest to it
      s.tokens.erase(s.tokens.begin(), s.tokens.begin() + excess);
      s.truncated = true;
    }
    s.first = s.tokens.size() - choice.size();
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<double> choice_logprobs(Model& model, const std::vector<ScoredSequence>& sequences) {
  const int64_t B = model.batch(), T = model.seq_len();
  PHA_REQUIRE(static_cast<int64_t>(sequences.size()) <= B, "{} sequences for a batch of {}",
              sequences.size(), B);
  // Rows beyond the sequences and positions after a sequence's end hold token 0: causality
  // keeps them from touching the scored positions.
  std::vector<int32_t> batch(static_cast<size_t>(B * T), 0);
  for (size_t r = 0; r < sequences.size(); ++r) {
    PHA_REQUIRE(static_cast<int64_t>(sequences[r].tokens.size()) <= T,
                "a sequence of {} tokens for a model of seq_len {}", sequences[r].tokens.size(), T);
    std::copy(sequences[r].tokens.begin(), sequences[r].tokens.end(),
              batch.begin() + static_cast<int64_t>(r) * T);
  }
  model.forward(batch.data());
  const std::vector<double> logits = host_logits(model);  // [B*T, V_pad]
  const size_t V = static_cast<size_t>(model.logits(0).dim(1));
  std::vector<double> out;
  for (size_t r = 0; r < sequences.size(); ++r) {
    const ScoredSequence& s = sequences[r];
    double sum = 0;
    for (size_t t = s.first; t < s.tokens.size(); ++t) {
      // The logits at position t - 1 predict token t.
      const double* row = &logits[(r * static_cast<size_t>(T) + t - 1) * V];
      const double max = *std::max_element(row, row + V);
      double z = 0;
      for (size_t v = 0; v < V; ++v) z += std::exp(row[v] - max);
      sum += row[static_cast<size_t>(s.tokens[t])] - max - std::log(z);
    }
    out.push_back(sum);
  }
  return out;
}

std::pair<int64_t, int64_t> task_shape(const std::vector<std::vector<ScoredSequence>>& sequences) {
  int64_t batch = 1, seq_len = 2;
  for (const auto& item : sequences) {
    batch = std::max(batch, static_cast<int64_t>(item.size()));
    for (const ScoredSequence& s : item)
      seq_len = std::max(seq_len, static_cast<int64_t>(s.tokens.size()));
  }
  return {batch, seq_len};
}

TaskResult score_task(Model& model, const std::vector<io::TaskItem>& items,
                      const std::vector<std::vector<ScoredSequence>>& sequences) {
  TaskResult result;
  for (size_t i = 0; i < items.size(); ++i) {
    ItemScores scores;
    scores.logprob = choice_logprobs(model, sequences[i]);
    std::vector<double> per_token;
    for (size_t c = 0; c < sequences[i].size(); ++c) {
      const ScoredSequence& s = sequences[i][c];
      scores.tokens.push_back(static_cast<int64_t>(s.tokens.size() - s.first));
      per_token.push_back(scores.logprob[c] / static_cast<double>(scores.tokens.back()));
      scores.truncated = scores.truncated || s.truncated;
    }
    scores.pick_sum = static_cast<int64_t>(argmax(scores.logprob));
    scores.pick_per_token = static_cast<int64_t>(argmax(per_token));
    result.correct_sum += scores.pick_sum == items[i].answer;
    result.correct_per_token += scores.pick_per_token == items[i].answer;
    result.truncated += scores.truncated;
    result.items.push_back(std::move(scores));
  }
  return result;
}

}  // namespace pha::launch
