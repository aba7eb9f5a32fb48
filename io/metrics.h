#pragma once
// Metrics: one JSON object per line in RUN/metrics.jsonl (step records, evaluations, events).
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace pha {

// Builds one flat JSON object; values are numbers, strings or arrays of numbers.
class JsonRecord {
 public:
  JsonRecord& add(const std::string& key, double value);
  JsonRecord& add(const std::string& key, int64_t value);
  JsonRecord& add(const std::string& key, const std::string& value);
  JsonRecord& add(const std::string& key, const std::vector<float>& values);
  JsonRecord& add(const std::string& key, const std::vector<std::vector<float>>& values);
  std::string str() const;
  // The numeric (non-array) fields in the order added: what TensorBoard receives as scalars.
  const std::vector<std::pair<std::string, double>>& numbers() const { return numbers_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key, encoded value
  std::vector<std::pair<std::string, double>> numbers_;
};

class MetricsWriter {
 public:
  MetricsWriter() = default;
  // Appends to `path` (created if missing); each record is flushed as it is written.
  explicit MetricsWriter(const std::string& path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  void write(const JsonRecord& record);
  bool is_open() const { return file_ != nullptr; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

std::string json_escape(const std::string& text);

}  // namespace pha
