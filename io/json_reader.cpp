#include "io/json_reader.h"

#include <fmt/format.h>

#include "core/error.h"
#include "io/unicode_text.h"

namespace pha::io {
namespace {

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  std::vector<std::pair<std::string, int64_t>> int_object() {
    std::vector<std::pair<std::string, int64_t>> members;
    expect('{');
    if (!consume('}')) {
      do {
        std::string key = string();
        expect(':');
        members.emplace_back(std::move(key), integer());
      } while (consume(','));
      expect('}');
    }
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the closing '}'");
    return members;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i)
      text_[i] == '\n' ? (++line, column = 1) : ++column;
    fail(
        "{}: line {} column {}: {} (expected a JSON object of strings to integers, like GPT-2's "
        "vocab.json)",
        source_, line, column, what);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) return ++pos_, true;
    return false;
  }

  void expect(char c) {
    if (consume(c)) return;
    error(pos_ < text_.size() ? fmt::format("expected '{}', found '{}'", c, text_[pos_])
                              : fmt::format("expected '{}', found the end of the file", c));
  }

  uint32_t hex4() {
    if (pos_ + 4 > text_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        error("bad hex digit in a \\u escape");
    }
    return v;
  }

  void escape(std::string& out) {
    if (pos_ >= text_.size()) error("unterminated string");
    const char c = text_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        return;
      case 'b':
        out += '\b';
        return;
      case 'f':
        out += '\f';
        return;
      case 'n':
        out += '\n';
        return;
      case 'r':
        out += '\r';
        return;
      case 't':
        out += '\t';
        return;
      case 'u':
        break;
      default:
        error(fmt::format("unknown escape '\\{}'", c));
    }
    char32_t cp = hex4();
    if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate must be followed by a low one
      if (text_.substr(pos_, 2) != "\\u") error("unpaired surrogate in a \\u escape");
      pos_ += 2;
      const uint32_t low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) error("unpaired surrogate in a \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      error("unpaired surrogate in a \\u escape");
    }
    append_utf8(out, cp);
  }

  std::string string() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != '"') error("expected a string key");
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c == '\\')
        escape(out);
      else if (static_cast<unsigned char>(c) < 0x20)
        error("control character inside a string");
      else
        out += c;
    }
  }

  int64_t integer() {
    skip_space();
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    int64_t value = 0;
    const size_t digits = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (value > (INT64_MAX - 9) / 10) error("integer too large");
      value = value * 10 + (text_[pos_++] - '0');
    }
    if (pos_ == digits) {
      pos_ = start;
      error("expected an integer value");
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
      error("expected an integer value, found a fraction or exponent");
    return text_[start] == '-' ? -value : value;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<std::pair<std::string, int64_t>> parse_json_int_object(std::string_view text,
                                                                   const std::string& source) {
  return Parser(text, source).int_object();
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (u < 0x20 || u == 0x7F)
      out += fmt::format("\\u{:04x}", u);
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace pha::io
