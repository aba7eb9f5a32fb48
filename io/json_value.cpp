#include "io/json_value.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

#include "core/error.h"
#include "io/unicode_text.h"

namespace pha::io {

namespace {

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  JsonValue document() {
    JsonValue v = value(0);
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the JSON value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i)
      text_[i] == '\n' ? (++line, column = 1) : ++column;
    if (text_.find('\n') == std::string_view::npos)  // one line (a JSONL item): the column
      fail("{}: invalid JSON at column {}: {}", source_, column, what);
    fail("{}: invalid JSON at line {} column {}: {}", source_, line, column, what);
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
                              : fmt::format("expected '{}', found the end of the input", c));
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  JsonValue value(int depth) {
    if (depth > kMaxDepth) error("nested deeper than 64 levels");
    skip_space();
    if (pos_ >= text_.size()) error("expected a value, found the end of the input");
    JsonValue v;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = JsonValue::Kind::object;
      if (!consume('}')) {
        do {
          skip_space();
          std::string key = string();
          expect(':');
          v.members.emplace_back(std::move(key), value(depth + 1));
        } while (consume(','));
        expect('}');
      }
    } else if (c == '[') {
      ++pos_;
      v.kind = JsonValue::Kind::array;
      if (!consume(']')) {
        do v.items.push_back(value(depth + 1));
        while (consume(','));
        expect(']');
      }
    } else if (c == '"') {
      v.kind = JsonValue::Kind::string;
      v.text = string();
    } else if (literal("true")) {
      v.kind = JsonValue::Kind::boolean;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = JsonValue::Kind::boolean;
    } else if (literal("null")) {
      v.kind = JsonValue::Kind::null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = JsonValue::Kind::number;
      v.text = number();
    } else {
      error(fmt::format("unexpected character '{}'", c));
    }
    return v;
  }

  std::string number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == from) error("malformed number");
    };
    if (text_[pos_] == '-') ++pos_;
    if (text_.substr(pos_, 1) == "0" && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' &&
        text_[pos_ + 1] <= '9')
      error("a number with a leading zero");
    digits();
    if (pos_ < text_.size() && text_[pos_] == '.') ++pos_, digits();
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      digits();
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  uint32_t hex4() {
    if (pos_ + 4 > text_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
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
    if (pos_ >= text_.size() || text_[pos_] != '"') error("expected a string");
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

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

const char* json_kind_name(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::null:
      return "null";
    case JsonValue::Kind::boolean:
      return "a boolean";
    case JsonValue::Kind::number:
      return "a number";
    case JsonValue::Kind::string:
      return "a string";
    case JsonValue::Kind::array:
      return "an array";
    case JsonValue::Kind::object:
      return "an object";
  }
  return "?";
}

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

int64_t JsonValue::as_int(const std::string& what) const {
  PHA_REQUIRE(kind == Kind::number, "{} is {}, expected an integer", what, json_kind_name(kind));
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  PHA_REQUIRE(ec == std::errc() && end == text.data() + text.size(),
              "{} = {} is not an integer (or too large)", what, text);
  return v;
}

double JsonValue::as_double(const std::string& what) const {
  PHA_REQUIRE(kind == Kind::number, "{} is {}, expected a number", what, json_kind_name(kind));
  return std::strtod(text.c_str(), nullptr);
}

const std::string& JsonValue::as_string(const std::string& what) const {
  PHA_REQUIRE(kind == Kind::string, "{} is {}, expected a string", what, json_kind_name(kind));
  return text;
}

bool JsonValue::as_bool(const std::string& what) const {
  PHA_REQUIRE(kind == Kind::boolean, "{} is {}, expected true or false", what,
              json_kind_name(kind));
  return boolean;
}

JsonValue parse_json(std::string_view text, const std::string& source) {
  return Parser(text, source).document();
}

}  // namespace pha::io
