#pragma once
// GPT-2's reversible map between bytes and printable Unicode characters ("bytes_to_unicode"):
// vocab.json and merges.txt spell every token as a string of these characters, one per byte, so
// that no token contains a space or a control character. Printable Latin-1 bytes map to
// themselves; the other 68 bytes map to U+0100.. in byte order (space 0x20 becomes 'Ġ' U+0120).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pha::io {

// The UTF-8 spelling of a raw byte string in the GPT-2 alphabet.
std::string gpt2_spell_bytes(std::string_view bytes);

// The raw bytes of a token spelled in the GPT-2 alphabet, or nothing when a character is outside
// the alphabet (or the spelling is not UTF-8).
std::optional<std::string> gpt2_unspell(std::string_view spelled);

// Byte values in GPT-2's id order: the byte of token id i (i < 256) in GPT-2's own vocab.json.
uint8_t gpt2_byte_of_rank(int rank);

}  // namespace pha::io
