#include "io/metrics.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace pha {

namespace {
// JSON has no NaN or Inf: they are written as null (and named in the log by the trainer).
// 17 significant digits: a double read back is the same double (bit-exact comparisons of runs).
std::string number(double v) {
  return std::isfinite(v) ? fmt::format("{:.17g}", v) : "null";
}
}  // namespace

std::string json_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<int>(ch));
        else
          out += ch;
    }
  }
  return out;
}

JsonRecord& JsonRecord::add(const std::string& key, double value) {
  fields_.emplace_back(key, number(value));
  numbers_.emplace_back(key, value);
  return *this;
}

JsonRecord& JsonRecord::add(const std::string& key, int64_t value) {
  fields_.emplace_back(key, std::to_string(value));
  numbers_.emplace_back(key, static_cast<double>(value));
  return *this;
}

JsonRecord& JsonRecord::add(const std::string& key, const std::string& value) {
  fields_.emplace_back(key, "\"" + json_escape(value) + "\"");
  return *this;
}

JsonRecord& JsonRecord::add(const std::string& key, const std::vector<float>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + number(values[i]);
  fields_.emplace_back(key, s + "]");
  return *this;
}

JsonRecord& JsonRecord::add(const std::string& key, const std::vector<std::vector<float>>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    s += i ? ",[" : "[";
    for (size_t j = 0; j < values[i].size(); ++j) s += (j ? "," : "") + number(values[i][j]);
    s += "]";
  }
  fields_.emplace_back(key, s + "]");
  return *this;
}

std::string JsonRecord::str() const {
  std::string s = "{";
  for (size_t i = 0; i < fields_.size(); ++i)
    s += fmt::format("{}\"{}\":{}", i ? "," : "", json_escape(fields_[i].first), fields_[i].second);
  return s + "}";
}

MetricsWriter::MetricsWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "a");
  PHA_REQUIRE(file_ != nullptr, "cannot open the metrics file '{}' for writing: {}", path,
              std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(const JsonRecord& record) {
  if (!file_) return;
  const std::string line = record.str() + "\n";
  PHA_REQUIRE(
      std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0,
      "writing the metrics file '{}' failed: {} (disk full?)", path_, std::strerror(errno));
}

}  // namespace pha
