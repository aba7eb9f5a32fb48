#pragma once
// UTF-8 decoding and the Unicode character classes the GPT-2 pre-tokeniser needs: letter (\p{L}),
// number (\p{N}) and whitespace (\s), from tables generated from the Unicode database of the
// Python regex module that GPT-2's pattern runs under (io/unicode_tables.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pha::io {

// One decoded code point and the number of bytes it occupies. A byte that does not start a valid
// UTF-8 sequence decodes as itself with `valid == false` and length 1, so every byte string can be
// walked and nothing is ever lost.
struct CodePoint {
  char32_t value;
  uint8_t length;
  bool valid;
};

CodePoint decode_utf8(std::string_view text, size_t pos);
void append_utf8(std::string& out, char32_t cp);

bool is_unicode_letter(char32_t cp);
bool is_unicode_number(char32_t cp);
bool is_unicode_whitespace(char32_t cp);

}  // namespace pha::io
