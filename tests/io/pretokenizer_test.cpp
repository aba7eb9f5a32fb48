// The hand-written GPT-2 pre-tokeniser against the pieces GPT-2's regex gives, the Unicode classes
// it relies on, and GPT-2's byte alphabet.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/philox.h"
#include "io/gpt2_byte_alphabet.h"
#include "io/gpt2_pretokenizer.h"
#include "io/unicode_text.h"

namespace pha::io {
namespace {

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  gpt2_pretokenize(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

using Pieces = std::vector<std::string>;

TEST(Gpt2Pretokenizer, WordsTakeTheirLeadingSpace) {
  EXPECT_EQ(pieces("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(pieces("abc123 456x"), (Pieces{"abc", "123", " 456", "x"}));
  EXPECT_EQ(pieces("a, b!?"), (Pieces{"a", ",", " b", "!?"}));
}

TEST(Gpt2Pretokenizer, Contractions) {
  EXPECT_EQ(pieces("I'm here, don't go"), (Pieces{"I", "'m", " here", ",", " don", "'t", " go"}));
  EXPECT_EQ(pieces("they're we've you'll he'd it's"),
            (Pieces{"they", "'re", " we", "'ve", " you", "'ll", " he", "'d", " it", "'s"}));
  EXPECT_EQ(pieces("'sup"), (Pieces{"'s", "up"}));
  EXPECT_EQ(pieces("DON'T"), (Pieces{"DON", "'", "T"}));  // contractions are case-sensitive
}

TEST(Gpt2Pretokenizer, WhitespaceRunsLeaveOneSpaceForTheNextWord) {
  EXPECT_EQ(pieces("a   go"), (Pieces{"a", "  ", " go"}));
  EXPECT_EQ(pieces("!\n\nOK"), (Pieces{"!", "\n", "\n", "OK"}));
  EXPECT_EQ(pieces("a\tb"), (Pieces{"a", "\t", "b"}));
  EXPECT_EQ(pieces("end  "), (Pieces{"end", "  "}));
  EXPECT_EQ(pieces(" "), (Pieces{" "}));
  EXPECT_EQ(pieces("x \n y"), (Pieces{"x", " \n", " y"}));
}

TEST(Gpt2Pretokenizer, NonAsciiLettersNumbersAndSymbols) {
  EXPECT_EQ(pieces("café naïve über"), (Pieces{"café", " naïve", " über"}));
  EXPECT_EQ(pieces("hi😀😀 ok"), (Pieces{"hi", "😀😀", " ok"}));
  EXPECT_EQ(pieces("你好 世界"), (Pieces{"你好", " 世界"}));
  EXPECT_EQ(pieces("Привет мир"), (Pieces{"Привет", " мир"}));
  EXPECT_EQ(pieces("x²+½"), (Pieces{"x", "²", "+", "½"}));
  EXPECT_EQ(pieces("a\u00a0b"), (Pieces{"a", "\u00a0", "b"}));  // no-break space is whitespace
  EXPECT_EQ(pieces("ℓ=𝔘𝔫𝔦 ﬁⅫ①"), (Pieces{"ℓ", "=", "𝔘𝔫𝔦", " ﬁ", "Ⅻ①"}));  // letters, numbers
  EXPECT_EQ(pieces("e\u0301!"), (Pieces{"e", "\u0301!"}));  // a combining mark is not a letter
}

TEST(Gpt2Pretokenizer, InvalidUtf8BytesArePiecesOfTheirOwnClass) {
  EXPECT_EQ(pieces("a\xff\xfe b"), (Pieces{"a", "\xff\xfe", " b"}));
  EXPECT_EQ(pieces("\xc3"), (Pieces{"\xc3"}));  // a truncated two-byte character
}

TEST(Gpt2Pretokenizer, PiecesConcatenateBackToAnyByteString) {
  for (uint64_t trial = 0; trial < 200; ++trial) {
    std::string text;
    for (uint64_t i = 0; i < 64; ++i) {
      const uint32_t r = philox_block(trial, 5, i).v[0];
      // Mostly ASCII letters, spaces and punctuation, with some arbitrary bytes.
      text += static_cast<char>(r % 4 == 0 ? (r >> 8) & 0xFF : " a'b1.\nZ"[(r >> 8) % 8]);
    }
    std::string joined;
    for (const auto& p : pieces(text)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text);
  }
}

TEST(UnicodeText, DecodesAndClassifies) {
  const std::string s = "é€😀";
  EXPECT_EQ(decode_utf8(s, 0).value, U'é');
  EXPECT_EQ(decode_utf8(s, 2).value, U'€');
  EXPECT_EQ(decode_utf8(s, 5).value, U'😀');
  EXPECT_EQ(decode_utf8(s, 5).length, 4);
  EXPECT_FALSE(decode_utf8("\xc0\x80", 0).valid);      // overlong
  EXPECT_FALSE(decode_utf8("\xed\xa0\x80", 0).valid);  // surrogate
  std::string round;
  for (const char32_t c : {U'a', U'é', U'€', U'😀'}) append_utf8(round, c);
  EXPECT_EQ(round, "aé€😀");
  EXPECT_TRUE(is_unicode_letter(U'ß'));
  EXPECT_TRUE(is_unicode_letter(U'ℓ'));
  EXPECT_TRUE(is_unicode_letter(U'\U00020000'));  // CJK extension B
  EXPECT_FALSE(is_unicode_letter(U'×'));
  EXPECT_TRUE(is_unicode_number(U'٣'));
  EXPECT_FALSE(is_unicode_letter(U'😀'));
  EXPECT_TRUE(is_unicode_whitespace(U'\u3000'));
}

TEST(Gpt2ByteAlphabet, MatchesGpt2BytesToUnicode) {
  EXPECT_EQ(gpt2_spell_bytes(" "), "Ġ");
  EXPECT_EQ(gpt2_spell_bytes("\n"), "Ċ");
  EXPECT_EQ(gpt2_spell_bytes(std::string(1, '\0')), "Ā");
  EXPECT_EQ(gpt2_spell_bytes("\xad"), "Ń");
  EXPECT_EQ(gpt2_spell_bytes("Az~"), "Az~");
  EXPECT_EQ(gpt2_spell_bytes("\xff"), "ÿ");
  EXPECT_EQ(gpt2_byte_of_rank(0), '!');
  EXPECT_EQ(gpt2_byte_of_rank(188), 0);    // GPT-2's vocab.json: "Ā" is id 188
  EXPECT_EQ(gpt2_byte_of_rank(220), ' ');  // and "Ġ" is id 220
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(gpt2_unspell(gpt2_spell_bytes(one)), one) << b;
  }
  EXPECT_FALSE(gpt2_unspell("a b").has_value());  // a raw space is not in the alphabet
}

}  // namespace
}  // namespace pha::io
