// GPT-2 BPE loading and encoding, on a tiny vocab.json + merges.txt written here by hand with the
// encodings worked out by hand; and round trips of ASCII and UTF-8 text.
#include "io/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include "io/gpt2_byte_alphabet.h"
#include "io/json_reader.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace pha::io {
namespace {

using test::expect_error;
using Ids = std::vector<uint32_t>;

// "Ġ" is GPT-2's spelling of the space byte.
const char* kTinyVocab = R"({"h": 0, "e": 1, "l": 2, "o": 3, "\u0120": 4, "w": 5, "r": 6, "d": 7,
  "he": 8, "ll": 9, "llo": 10, "hello": 11, "Ġw": 12, "or": 13, "Ġwor": 14, "ld": 15,
  "<|endoftext|>": 16})";
const char* kTinyMerges =
    "#version: 0.2\n"
    "h e\n"     // rank 0 -> he (8)
    "l l\n"     // rank 1 -> ll (9)
    "ll o\n"    // rank 2 -> llo (10)
    "he llo\n"  // rank 3 -> hello (11)
    "Ġ w\n"     // rank 4 -> Ġw (12)
    "o r\n"     // rank 5 -> or (13)
    "Ġw or\n"   // rank 6 -> Ġwor (14)
    "l d\n";    // rank 7 -> ld (15)

std::unique_ptr<BpeTokenizer> tiny() {
  test::TempDir dir;
  test::write_file(dir / "vocab.json", kTinyVocab);
  test::write_file(dir / "merges.txt", kTinyMerges);
  return BpeTokenizer::load(dir.str());
}

TEST(BpeTokenizer, HandmadeVocabularyEncodesAsWorkedOut) {
  const auto t = tiny();
  EXPECT_EQ(t->vocab_size(), 17u);
  EXPECT_EQ(t->merge_count(), 8u);
  EXPECT_EQ(t->end_of_text(), 16u);
  // "hello": h e l l o -> he l l o -> he ll o -> he llo -> hello.
  // " world": Ġ w o r l d -> Ġw o r l d -> Ġw or l d -> Ġwor l d -> Ġwor ld.
  EXPECT_EQ(t->encode("hello world"), (Ids{11, 14, 15}));
  EXPECT_EQ(t->encode("hell"), (Ids{8, 9}));              // "he ll": no merge joins them
  EXPECT_EQ(t->encode("lll"), (Ids{9, 2}));               // pairs merge left to right
  EXPECT_EQ(t->encode("orld"), (Ids{13, 15}));            // "or" (rank 5) before "ld" (rank 7)
  EXPECT_EQ(t->encode("hello hello"), (Ids{11, 4, 11}));  // no "Ġh" merge
  EXPECT_EQ(t->decode(Ids{11, 14, 15, 16}), "hello world<|endoftext|>");
  EXPECT_EQ(t->identity().substr(0, 9), "gpt2-bpe:");
  EXPECT_EQ(t->identity().size(), 9u + 16u);
}

TEST(BpeTokenizer, IdentityDependsOnContentNotFormatting) {
  const auto a = tiny();
  std::string spaced = kTinyVocab;
  spaced.insert(1, "\n\n   ");
  const auto b = BpeTokenizer::from_text(spaced, kTinyMerges, "elsewhere");
  EXPECT_EQ(a->identity(), b->identity());
  const auto c = BpeTokenizer::from_text(kTinyVocab, "#version: 0.2\nh e\n", "fewer-merges");
  EXPECT_NE(a->identity(), c->identity());
}

TEST(BpeTokenizer, RefusesBytesMissingFromTheVocabulary) {
  expect_error([] { tiny()->encode("hey"); }, "byte 0x79 has no token in vocab.json");
}

TEST(BpeTokenizer, RefusesInconsistentFiles) {
  expect_error([] { BpeTokenizer::from_text(kTinyVocab, "h e\nx y\n", "dir"); },
               "dir/merges.txt line 2: the merge 'x y'");
  expect_error([] { BpeTokenizer::from_text(kTinyVocab, "h  e\n", "dir"); },
               "dir/merges.txt line 1: expected two tokens separated by one space");
  expect_error([] { BpeTokenizer::from_text(R"({"a": 0, "b": 2})", "", "dir"); },
               "token \"b\" has id 2; ids must be 0..1");
  expect_error([] { BpeTokenizer::from_text(R"({"a": 0, "b": "x"})", "", "dir"); },
               "dir/vocab.json: line 1 column 15: expected an integer value");
}

TEST(BpeTokenizer, RefusesAMissingDirectory) {
  test::TempDir dir;
  expect_error([&] { BpeTokenizer::load(dir / "nothing"); },
               "tokenizer vocabulary file '" + (dir / "nothing") + "/vocab.json' does not exist");
}

// A vocabulary of all 256 bytes plus a few merges, so that any text can be encoded.
std::unique_ptr<BpeTokenizer> byte_complete() {
  std::string vocab = "{";
  for (int b = 0; b < 256; ++b)
    vocab += fmt::format("{}{}: {}", b ? ", " : "",
                         json_quote(gpt2_spell_bytes(std::string(1, static_cast<char>(b)))), b);
  vocab += R"(, "th": 256, "the": 257, "Ġthe": 258, "Ã©": 259})";  // Ã© spells the bytes of é
  return BpeTokenizer::from_text(vocab, "t h\nth e\nĠ the\nÃ ©\n", "byte-complete");
}

TEST(BpeTokenizer, RoundTripsAsciiAndUtf8) {
  const auto t = byte_complete();
  for (const std::string& text :
       std::vector<std::string>{"the cat sat on the mat.\n\nThe end!",
                                "café, naïve, Ångström — 😀🎉 über straße", "日本語のテキスト 123 ½",
                                "tabs\tand  spaces   ", std::string("\0\x01\xff\xfe raw", 9)}) {
    const Ids ids = t->encode(text);
    EXPECT_EQ(t->decode(ids), text);
  }
  EXPECT_EQ(t->encode("the"), (Ids{257}));
  EXPECT_EQ(t->encode(" the"), (Ids{258}));
  EXPECT_EQ(t->encode("é"), (Ids{259}));
}

}  // namespace
}  // namespace pha::io
