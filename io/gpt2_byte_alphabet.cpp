#include "io/gpt2_byte_alphabet.h"

#include <array>

#include "io/unicode_text.h"

namespace pha::io {
namespace {

// The bytes that are not printable Latin-1: control codes, space, DEL, NBSP and soft hyphen.
constexpr int kShifted = 68;

bool maps_to_itself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

struct Alphabet {
  std::array<char32_t, 256> char_of_byte{};
  std::array<uint8_t, 256> byte_of_rank{};
  std::array<uint8_t, kShifted> byte_of_shifted{};
  Alphabet() {
    int rank = 0, shifted = 0;
    for (int b = 0; b < 256; ++b)
      if (maps_to_itself(b)) char_of_byte[b] = static_cast<char32_t>(b), byte_of_rank[rank++] = b;
    for (int b = 0; b < 256; ++b) {
      if (maps_to_itself(b)) continue;
      byte_of_shifted[shifted] = b;
      char_of_byte[b] = static_cast<char32_t>(256 + shifted++);
      byte_of_rank[rank++] = b;
    }
  }
  std::optional<uint8_t> byte_of_char(char32_t c) const {
    if (c < 256 && maps_to_itself(static_cast<int>(c))) return static_cast<uint8_t>(c);
    if (c >= 256 && c < 256 + kShifted) return byte_of_shifted[c - 256];
    return std::nullopt;
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

}  // namespace

std::string gpt2_spell_bytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) append_utf8(out, alphabet().char_of_byte[static_cast<uint8_t>(c)]);
  return out;
}

std::optional<std::string> gpt2_unspell(std::string_view spelled) {
  std::string out;
  for (size_t pos = 0; pos < spelled.size();) {
    const CodePoint c = decode_utf8(spelled, pos);
    const auto byte = c.valid ? alphabet().byte_of_char(c.value) : std::nullopt;
    if (!byte) return std::nullopt;
    out += static_cast<char>(*byte);
    pos += c.length;
  }
  return out;
}

uint8_t gpt2_byte_of_rank(int rank) {
  return alphabet().byte_of_rank[rank];
}

}  // namespace pha::io
