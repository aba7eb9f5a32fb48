// The synthetic corpus: determinism, vocabulary, MQAR structure, the recall-answer mask on whole
// documents and on windows that cut them, and agreement in the generated language.
#include "io/synthetic_corpus.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "io/synthetic_language.h"
#include "tests/test_util.h"

namespace pha::io {
namespace {

using Lang = SyntheticLanguage;

std::vector<int32_t> as_int32(const std::vector<uint32_t>& t) {
  return {t.begin(), t.end()};
}

TEST(SyntheticCorpus, IsDeterministicPerSeedAndSplit) {
  const SyntheticCorpus a(7, "train"), b(7, "train"), other_seed(8, "train"), val(7, "val");
  EXPECT_EQ(a.generate(5000), b.generate(5000));
  EXPECT_NE(a.generate(5000), other_seed.generate(5000));
  EXPECT_NE(a.generate(5000), val.generate(5000));
  EXPECT_EQ(a.document(123), b.document(123));  // any document, in any order
  const auto stream = a.generate(777);
  EXPECT_EQ(stream.size(), 777u);
  const auto first = a.document(0);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), stream.begin()));
}

TEST(SyntheticCorpus, VocabularyOfAFewHundredWords) {
  const uint32_t v = SyntheticCorpus::vocab_size();
  EXPECT_GE(v, 300u);
  EXPECT_LE(v, 1000u);
  for (const uint32_t id : SyntheticCorpus(3, "train").generate(20000)) ASSERT_LT(id, v);
  EXPECT_EQ(Lang::get().word(Lang::kFirstKey), "k00");
  EXPECT_EQ(Lang::get().word(Lang::kFirstValue + 63), "v63");
}

TEST(SyntheticCorpus, MixesRecallAndLanguageDocuments) {
  const SyntheticCorpus corpus(11, "train", {.mqar_fraction = 0.3});
  int mqar = 0;
  const int docs = 2000;
  for (int d = 0; d < docs; ++d) {
    const auto doc = corpus.document(d);
    ASSERT_EQ(doc.back(), Lang::kEndOfDocument);
    if (doc[0] != Lang::kKeyValueSection) {
      EXPECT_EQ(doc[doc.size() - 2], Lang::kPeriod);
      continue;
    }
    ++mqar;
    // <kv> (k v) x P <q> (k v) x P <eos>, every query answered by the value bound to its key.
    const size_t pairs = (doc.size() - 3) / 4;
    ASSERT_EQ(doc.size(), 4 * pairs + 3);
    ASSERT_GE(pairs, 4u);
    ASSERT_LE(pairs, 16u);
    ASSERT_EQ(doc[1 + 2 * pairs], Lang::kQuerySection);
    std::map<uint32_t, uint32_t> bound;
    for (size_t i = 0; i < pairs; ++i) {
      ASSERT_TRUE(Lang::is_key(doc[1 + 2 * i]));
      ASSERT_TRUE(Lang::is_value(doc[2 + 2 * i]));
      ASSERT_TRUE(bound.emplace(doc[1 + 2 * i], doc[2 + 2 * i]).second) << "keys are distinct";
    }
    std::set<uint32_t> queried;
    for (size_t i = 0; i < pairs; ++i) {
      const uint32_t key = doc[2 + 2 * pairs + 2 * i], value = doc[3 + 2 * pairs + 2 * i];
      ASSERT_EQ(bound.at(key), value);
      queried.insert(key);
    }
    EXPECT_EQ(queried.size(), pairs) << "every key is queried once";
    const auto mask = recall_answer_mask(as_int32(doc));
    for (size_t i = 0; i < doc.size(); ++i)
      EXPECT_EQ(mask[i], i >= 3 + 2 * pairs && (i - 3 - 2 * pairs) % 2 == 0) << i;
  }
  EXPECT_NEAR(mqar / static_cast<double>(docs), 0.3, 0.04);
}

TEST(RecallAnswerMask, WindowsMarkOnlyAnswersTheyCanKnow) {
  // <kv> k1 v1 k2 v2 <q> k2 v2 k1 v1 <eos>
  const auto k = [](int i) { return static_cast<int32_t>(Lang::kFirstKey + i); };
  const auto v = [](int i) { return static_cast<int32_t>(Lang::kFirstValue + i); };
  const int32_t kv = Lang::kKeyValueSection, q = Lang::kQuerySection, eos = Lang::kEndOfDocument;
  const std::vector<int32_t> doc = {kv, k(1), v(1), k(2), v(2), q, k(2), v(2), k(1), v(1), eos};
  EXPECT_EQ(recall_answer_mask(doc), (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0}));
  // A window starting after <kv> cannot know any binding.
  EXPECT_EQ(recall_answer_mask(std::span(doc).subspan(2)), (std::vector<uint8_t>(9, 0)));
  // Language text has no answers.
  const auto text = SyntheticCorpus(5, "train", {.mqar_fraction = 0}).generate(3000);
  for (const uint8_t m : recall_answer_mask(as_int32(text))) ASSERT_EQ(m, 0);
}

TEST(RecallScore, CountsCorrectPredictionsAtAnswers) {
  const auto tokens = as_int32(SyntheticCorpus(9, "train", {.mqar_fraction = 1}).generate(4000));
  std::vector<int32_t> perfect(tokens.begin() + 1, tokens.end()), wrong(tokens.size() - 1, 0);
  RecallScore good, bad;
  good.add(tokens, perfect);
  bad.add(tokens, wrong);
  EXPECT_GT(good.answers, 500u);
  EXPECT_EQ(good.correct, good.answers);
  EXPECT_DOUBLE_EQ(good.accuracy(), 1.0);
  EXPECT_EQ(bad.answers, good.answers);
  EXPECT_EQ(bad.correct, 0u);
}

TEST(SyntheticLanguage, DeterminersAgreeWithTheirNoun) {
  // Singular nouns and all adjectives are stems (never ending in "s"); plural nouns end in "s".
  const Lang& lang = Lang::get();
  const auto text = SyntheticCorpus(13, "train", {.mqar_fraction = 0}).generate(50000);
  const std::set<std::string> singular = {"a", "every", "one", "this"};
  const std::set<std::string> plural = {"some", "these", "many", "two", "few"};
  int checked = 0;
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    const std::string& det = lang.word(text[i]);
    if (singular.count(det)) {
      EXPECT_FALSE(lang.word(text[i + 1]).ends_with('s')) << det << " " << lang.word(text[i + 1]);
      ++checked;
    } else if (plural.count(det)) {
      // The noun is next, or after one adjective.
      const bool noun_next = lang.word(text[i + 1]).ends_with('s');
      EXPECT_TRUE(noun_next || lang.word(text[i + 2]).ends_with('s'));
      ++checked;
    }
  }
  EXPECT_GT(checked, 3000);
}

TEST(SyntheticCorpus, EasyRecallDrawsFromTheFirstKeysAndValues) {
  const SyntheticCorpus corpus(
      5, "train", {.mqar_fraction = 1, .min_pairs = 2, .max_pairs = 3, .n_keys = 7, .n_values = 5});
  std::set<uint32_t> keys, values;
  for (int d = 0; d < 300; ++d) {
    const auto doc = corpus.document(d);
    const size_t pairs = (doc.size() - 3) / 4;
    ASSERT_GE(pairs, 2u);
    ASSERT_LE(pairs, 3u);
    for (size_t i = 0; i < pairs; ++i) {
      keys.insert(doc[1 + 2 * i]);
      values.insert(doc[2 + 2 * i]);
    }
  }
  EXPECT_EQ(keys.size(), 7u);
  EXPECT_EQ(values.size(), 5u);
  EXPECT_EQ(*keys.begin(), Lang::kFirstKey);
  EXPECT_EQ(*keys.rbegin(), Lang::kFirstKey + 6);
  EXPECT_EQ(*values.begin(), Lang::kFirstValue);
  EXPECT_EQ(*values.rbegin(), Lang::kFirstValue + 4);
}

TEST(SyntheticCorpus, RefusesBadOptions) {
  test::expect_error([] { SyntheticCorpus(1, "train", {.mqar_fraction = 1.5}); },
                     "MQAR fraction 1.5 is not in [0, 1]");
  test::expect_error([] { SyntheticCorpus(1, "train", {.min_pairs = 5, .max_pairs = 80}); },
                     "<= 64 keys");
  test::expect_error([] { SyntheticCorpus(1, "train", {.max_pairs = 9, .n_keys = 8}); },
                     "<= 8 keys");
  test::expect_error([] { SyntheticCorpus(1, "train", {.n_values = 0}); },
                     "values (0) must be in [1, 64]");
}

}  // namespace
}  // namespace pha::io
