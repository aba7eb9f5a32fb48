#pragma once
// A JSON document as a tree: what the safetensors header, a Hugging Face config.json and a task
// file's lines hold. Numbers keep their text so that integers up to 2^63 read back exactly.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pha::io {

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;                                        // a string's value, a number's digits
  std::vector<JsonValue> items;                            // array elements
  std::vector<std::pair<std::string, JsonValue>> members;  // object members in file order

  bool is(Kind k) const { return kind == k; }
  // The member `key` of an object, or nullptr.
  const JsonValue* find(std::string_view key) const;
  // Typed reads: each refuses a value of another kind naming `what` (e.g. "config.json:
  // vocab_size").
  int64_t as_int(const std::string& what) const;
  double as_double(const std::string& what) const;
  const std::string& as_string(const std::string& what) const;
  bool as_bool(const std::string& what) const;
};

const char* json_kind_name(JsonValue::Kind kind);

// Parses one JSON value filling all of `text` (surrounding white space allowed). `source` names
// the input in error messages ("FILE line 3").
JsonValue parse_json(std::string_view text, const std::string& source);

}  // namespace pha::io
