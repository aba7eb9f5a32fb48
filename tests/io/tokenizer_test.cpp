// The byte tokenizer, the tokenizer factory, and the JSON reader behind vocab.json.
#include "io/tokenizer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "io/json_reader.h"
#include "tests/test_util.h"

namespace pha::io {
namespace {

using test::expect_error;

TEST(ByteTokenizer, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const ByteTokenizer t;
  const auto ids = t.encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (uint32_t b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(t.decode(ids), all);
  EXPECT_EQ(t.decode(t.encode("héllo 😀")), "héllo 😀");
  EXPECT_EQ(t.vocab_size(), 256u);
  EXPECT_EQ(t.identity(), "byte");
  const std::vector<uint32_t> bad = {65, 256};
  expect_error([&] { t.decode(bad); }, "id 256 at position 1 is not a byte");
}

TEST(MakeTokenizer, KnowsEachKindAndRefusesOthers) {
  EXPECT_EQ(make_tokenizer("byte")->identity(), "byte");
  EXPECT_EQ(make_tokenizer("synthetic")->identity(), "synthetic-v1");
  expect_error([] { make_tokenizer("sentencepiece"); },
               "unknown tokenizer 'sentencepiece': use byte, gpt2:DIR, bpe:DIR");
  expect_error([] { make_tokenizer("gpt2:"); }, "give the directory holding vocab.json");
  expect_error([] { make_tokenizer("bpe:/no/such/dir"); },
               "/no/such/dir/vocab.json' does not exist");
}

TEST(SyntheticTokenizer, RoundTripsItsWords) {
  const auto t = make_tokenizer("synthetic");
  const auto ids = t->encode("<kv> k01 v02 <q> k01 v02 <eos> the");
  EXPECT_EQ(t->decode(ids), "<kv> k01 v02 <q> k01 v02 <eos>\nthe");
  expect_error([&] { t->encode("the zebra"); }, "'zebra' is not a word of the synthetic language");
}

TEST(JsonReader, ParsesStringsWithEveryEscape) {
  const auto members = parse_json_int_object(
      R"( { "a" : 1, "\"q\\\/" :-2, "\u00e9\ud83d\ude00" : 30 , "\n\t\b\f\r": 4 } )", "x.json");
  ASSERT_EQ(members.size(), 4u);
  EXPECT_EQ(members[0], (std::pair<std::string, int64_t>{"a", 1}));
  EXPECT_EQ(members[1].first, "\"q\\/");
  EXPECT_EQ(members[1].second, -2);
  EXPECT_EQ(members[2].first, "é😀");
  EXPECT_EQ(members[3].first, "\n\t\b\f\r");
  EXPECT_TRUE(parse_json_int_object("{}", "x.json").empty());
}

TEST(JsonReader, RefusesMalformedInputNamingFileAndLine) {
  expect_error([] { parse_json_int_object("{\"a\": 1,\n \"b\" 2}", "v.json"); },
               "v.json: line 2 column 6: expected ':', found '2'");
  expect_error([] { parse_json_int_object("{\"a\": 1.5}", "v.json"); }, "fraction or exponent");
  expect_error([] { parse_json_int_object("{\"a\": 1", "v.json"); }, "found the end of the file");
  expect_error([] { parse_json_int_object("{\"a\": 1} x", "v.json"); }, "unexpected text after");
  expect_error([] { parse_json_int_object("{\"\\ud800\": 1}", "v.json"); }, "unpaired surrogate");
  expect_error([] { parse_json_int_object("[1, 2]", "v.json"); }, "expected '{', found '['");
}

TEST(JsonReader, QuoteRoundTrips) {
  const std::string s = "a\"b\\c\nd\x01 é";
  EXPECT_EQ(json_quote(s), "\"a\\\"b\\\\c\\nd\\u0001 é\"");
  const auto back = parse_json_int_object(fmt::format("{{{}: 7}}", json_quote(s)), "q.json");
  EXPECT_EQ(back[0].first, s);
}

}  // namespace
}  // namespace pha::io
