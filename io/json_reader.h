#pragma once
// The JSON this program reads and writes: a single object whose values are integers (GPT-2's
// vocab.json). Small on purpose — the full grammar of strings (escapes, \u surrogate pairs) and
// numbers is supported, other value types are refused with a message naming the file and line.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pha::io {

// The members of `{"key": 123, ...}` in file order. `source` names the file in error messages.
std::vector<std::pair<std::string, int64_t>> parse_json_int_object(std::string_view text,
                                                                   const std::string& source);

// `s` as a JSON string literal, quotes included (s is UTF-8; control characters are escaped).
std::string json_quote(std::string_view s);

}  // namespace pha::io
