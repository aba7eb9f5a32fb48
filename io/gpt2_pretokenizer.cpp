#include "io/gpt2_pretokenizer.h"

#include "io/unicode_text.h"

namespace pha::io {
namespace {

enum class CharClass { letter, number, whitespace, other };

CharClass classify(const CodePoint& c) {
  if (!c.valid) return CharClass::other;
  if (is_unicode_letter(c.value)) return CharClass::letter;
  if (is_unicode_number(c.value)) return CharClass::number;
  if (is_unicode_whitespace(c.value)) return CharClass::whitespace;
  return CharClass::other;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) starting at `pos`, or 0.
size_t contraction_length(std::string_view text, size_t pos) {
  if (text[pos] != '\'') return 0;
  const std::string_view rest = text.substr(pos + 1);
  for (std::string_view suffix : {"re", "ve", "ll"})
    if (rest.starts_with(suffix)) return 3;
  if (!rest.empty() && (rest[0] == 's' || rest[0] == 't' || rest[0] == 'm' || rest[0] == 'd'))
    return 2;
  return 0;
}

// End of the run of code points of class `cls` starting at `pos`.
size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    const CodePoint c = decode_utf8(text, pos);
    if (classify(c) != cls) break;
    pos += c.length;
  }
  return pos;
}

// The length of the piece starting at `pos` (always at least one code point).
size_t piece_length(std::string_view text, size_t pos) {
  if (const size_t n = contraction_length(text, pos)) return n;
  const CodePoint first = decode_utf8(text, pos);
  const CharClass first_class = classify(first);
  // " ?X+" for X in letters, numbers, other: an optional ASCII space then a run of one class.
  if (text[pos] == ' ' && pos + 1 < text.size()) {
    const CharClass next = classify(decode_utf8(text, pos + 1));
    if (next != CharClass::whitespace) return run_end(text, pos + 1, next) - pos;
  }
  if (first_class != CharClass::whitespace) return run_end(text, pos, first_class) - pos;
  // "\s+(?!\S)": a whitespace run, giving back its last code point when a non-space follows, so
  // that the space can start the next word; a single space before a word falls to "\s+".
  const size_t end = run_end(text, pos, CharClass::whitespace);
  if (end == text.size() || end == pos + first.length) return end - pos;
  size_t last = pos;
  for (size_t p = pos; p < end; p += decode_utf8(text, p).length) last = p;
  return last - pos;
}

}  // namespace

void gpt2_pretokenize(std::string_view text, const std::function<void(std::string_view)>& emit) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = piece_length(text, pos);
    emit(text.substr(pos, n));
    pos += n;
  }
}

}  // namespace pha::io
