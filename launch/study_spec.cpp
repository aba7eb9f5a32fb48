#include "launch/study_spec.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "launch/ini_sections.h"

namespace fs = std::filesystem;

namespace pha::launch {
namespace {

// Keys the study sets in every cell itself: a [study] line may not set them.
const std::set<std::string> kReservedTrainKeys = {
    "run.dir",          "data.train",       "data.val",
    "train.seq_len",    "train.batch_size", "train.steps",
    "train.seed",       "train.eval_every", "train.eval_batches",
    "train.warmup",     "train.ckpt_every", "train.resume",
    "train.threads",    "model.vocab",      "model.max_seq_len",
    "model.preset",     "model.block",      "model.mixer",
    "model.d",          "model.n_layers",   "model.n_q",
    "model.n_kv",       "model.d_h",        "model.d_ff",
    "model.gss_f",      "model.gss_h",      "model.dss_n",
    "model.attn_window"};

// Where a value came from, for messages: "study.ini line 12".
std::string where(const std::string& file, const IniEntry& e) {
  return fmt::format("{} line {}", file, e.line);
}

int64_t parse_int(const std::string& file, const IniEntry& e, const std::string& text,
                  int64_t min) {
  double v = 0;
  size_t used = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  PHA_REQUIRE(used == text.size() && std::floor(v) == v && std::abs(v) < 9e18,
              "{}: {} = '{}' is not a whole number", where(file, e), e.key, text);
  PHA_REQUIRE(v >= static_cast<double>(min), "{}: {} = {} must be at least {}", where(file, e),
              e.key, text, min);
  return static_cast<int64_t>(v);
}

std::vector<int64_t> parse_ints(const std::string& file, const IniEntry& e, int64_t min) {
  std::vector<int64_t> out;
  for (const std::string& w : split_words(e.value)) out.push_back(parse_int(file, e, w, min));
  PHA_REQUIRE(!out.empty(), "{}: {} is empty", where(file, e), e.key);
  return out;
}

std::vector<std::string> parse_words(const std::string& file, const IniEntry& e) {
  std::vector<std::string> out = split_words(e.value);
  PHA_REQUIRE(!out.empty(), "{}: {} is empty", where(file, e), e.key);
  return out;
}

// Reads `tokens` or `text_bytes` into `b`; true when `e` was one of them.
bool parse_budget(const std::string& file, const IniEntry& e, StudyBudget& b) {
  if (e.key != "tokens" && e.key != "text_bytes") return false;
  (e.key == "tokens" ? b.tokens : b.text_bytes) = parse_int(file, e, e.value, 1);
  PHA_REQUIRE(b.tokens == 0 || b.text_bytes == 0,
              "{}: give either tokens or text_bytes as the budget, not both", where(file, e));
  return true;
}

[[noreturn]] void unknown_key(const std::string& file, const IniEntry& e,
                              const std::string& section, const char* keys) {
  fail("{}: unknown key '{}' in [{}]; its keys are: {}", where(file, e), e.key, section, keys);
}

// Applies the spec's pha-125m ratios to a size given as d, layers, heads (the others may be set).
void derive_shape(const std::string& file, const IniSection& s, ModelConfig& m,
                  const std::set<std::string>& given) {
  const auto ratio = [&](const char* key, int64_t& field, int64_t num, int64_t den) {
    if (given.count(key)) return;
    PHA_REQUIRE((m.d * num) % den == 0,
                "{} [{}] (line {}): d = {} is not divisible by {}: the spec's PHA shape sets {} = "
                "{}d/{}; choose d a multiple of {} or give {} explicitly",
                file, s.name, s.line, m.d, den, key, num, den, den, key);
    field = m.d * num / den;
  };
  ratio("d_ff", m.d_ff, 8, 3);
  ratio("gss_f", m.gss_f, 4, 3);
  ratio("gss_h", m.gss_h, 1, 3);
  ratio("dss_n", m.dss_n, 2, 3);
  if (!given.count("n_kv")) {
    PHA_REQUIRE(m.n_q % 3 == 0,
                "{} [{}] (line {}): heads = {} is not divisible by 3: the spec's PHA shape has "
                "n_kv = heads/3; give n_kv explicitly",
                file, s.name, s.line, m.n_q);
    m.n_kv = m.n_q / 3;
  }
}

StudySize parse_size(const std::string& file, const IniSection& s) {
  StudySize size;
  size.name = s.name.substr(5);
  PHA_REQUIRE(!size.name.empty(), "{} line {}: [size.] needs a name: [size.NAME]", file, s.line);
  std::set<std::string> given;
  std::map<std::string, int64_t> values;
  for (const IniEntry& e : s.entries) {
    if (parse_budget(file, e, size.budget)) continue;
    if (e.key == "preset") {
      size.preset = e.value;
      continue;
    }
    static const std::set<std::string> keys = {"d",    "layers", "heads", "n_kv", "d_h",
                                               "d_ff", "gss_f",  "gss_h", "dss_n"};
    if (!keys.count(e.key))
      unknown_key(file, e, s.name,
                  "preset, d, layers, heads, n_kv, d_h, d_ff, gss_f, gss_h, dss_n, tokens, "
                  "text_bytes");
    values[e.key] = parse_int(file, e, e.value, 1);
    given.insert(e.key);
  }
  ModelConfig& m = size.model;
  if (!size.preset.empty()) {
    try {
      m = model_preset(size.preset);
    } catch (const Error& e) {
      fail("{} [{}] (line {}): {}", file, s.name, s.line, e.what());
    }
  } else {
    for (const char* key : {"d", "layers", "heads"})
      PHA_REQUIRE(given.count(key),
                  "{} [{}] (line {}): a size needs d, layers and heads (or a preset)", file, s.name,
                  s.line);
  }
  const std::map<std::string, int64_t*> fields = {
      {"d", &m.d},         {"layers", &m.n_layers}, {"heads", &m.n_q},
      {"n_kv", &m.n_kv},   {"d_h", &m.d_h},         {"d_ff", &m.d_ff},
      {"gss_f", &m.gss_f}, {"gss_h", &m.gss_h},     {"dss_n", &m.dss_n}};
  for (const auto& [key, v] : values) *fields.at(key) = v;
  if (size.preset.empty()) derive_shape(file, s, m, given);
  PHA_REQUIRE(m.d_h > 0 || m.d % m.n_q == 0,
              "{} [{}] (line {}): d = {} is not divisible by heads = {}: choose d a multiple of "
              "the heads, or give d_h",
              file, s.name, s.line, m.d, m.n_q);
  PHA_REQUIRE(m.n_q % m.n_kv == 0, "{} [{}] (line {}): heads = {} is not a multiple of n_kv = {}",
              file, s.name, s.line, m.n_q, m.n_kv);
  m.block = BlockKind{};
  m.mixer = MixerKind::softmax;
  return size;
}

StudyGrid parse_grid(const std::string& file, const IniSection& s, const StudySpec& spec,
                     const std::vector<StudyTokenizer>& default_tokenizers,
                     const std::vector<int64_t>& default_seq_lens,
                     const std::vector<int64_t>& default_seeds) {
  StudyGrid g;
  g.name = s.name.substr(5);
  PHA_REQUIRE(!g.name.empty(), "{} line {}: [grid.] needs a name: [grid.NAME]", file, s.line);
  g.tokenizers = default_tokenizers;
  g.seq_lens = default_seq_lens;
  g.seeds = default_seeds;
  g.batch_tokens = spec.batch_tokens;
  for (const IniEntry& e : s.entries) {
    if (parse_budget(file, e, g.budget)) continue;
    try {
      if (e.key == "kind") {
        PHA_REQUIRE(e.value == "train" || e.value == "throughput",
                    "kind = '{}': use train or throughput", e.value);
        g.throughput = e.value == "throughput";
      } else if (e.key == "sizes") {
        g.sizes = parse_words(file, e);
      } else if (e.key == "variants") {
        g.variants.clear();
        for (const std::string& w : parse_words(file, e))
          g.variants.push_back(StudyVariant::parse(w));
      } else if (e.key == "tokenizers") {
        g.tokenizers.clear();
        for (const std::string& w : parse_words(file, e))
          g.tokenizers.push_back(StudyTokenizer::parse(w));
      } else if (e.key == "seq_lens") {
        g.seq_lens = parse_ints(file, e, 1);
      } else if (e.key == "seeds") {
        g.seeds = parse_ints(file, e, 0);
      } else if (e.key == "steps") {
        g.steps = parse_int(file, e, e.value, 2);
      } else if (e.key == "batch_tokens") {
        g.batch_tokens = parse_int(file, e, e.value, 1);
      } else {
        unknown_key(file, e, s.name,
                    "kind, sizes, variants, tokenizers, seq_lens, seeds, tokens, text_bytes, "
                    "steps, batch_tokens");
      }
    } catch (const Error& err) {
      const std::string msg = err.what();
      if (msg.rfind(file, 0) == 0) throw;
      fail("{}: {}", where(file, e), msg);
    }
  }
  PHA_REQUIRE(!g.sizes.empty() && !g.variants.empty(),
              "{} [{}] (line {}): a grid needs sizes and variants", file, s.name, s.line);
  PHA_REQUIRE(!g.tokenizers.empty() && !g.seq_lens.empty() && !g.seeds.empty(),
              "{} [{}] (line {}): no tokenizers, seq_lens or seeds (set them in the grid or in "
              "[study])",
              file, s.name, s.line);
  for (const std::string& name : g.sizes) {
    const StudySize& size = spec.size(name);
    for (const StudyVariant& v : g.variants) {
      try {
        v.apply(size.model, size.name);
      } catch (const Error& err) {
        fail("{} [{}] (line {}): {}", file, s.name, s.line, err.what());
      }
    }
    PHA_REQUIRE(g.throughput || g.budget.set() || size.budget.set() || spec.budget.set(),
                "{} [{}] (line {}): no budget for size {}: set tokens or text_bytes in the grid, "
                "the size or [study]",
                file, s.name, s.line, name);
  }
  return g;
}

void check_files(const std::string& file, const IniEntry& e, std::vector<std::string>& out) {
  out = parse_words(file, e);
  for (const std::string& path : out)
    PHA_REQUIRE(fs::is_regular_file(path),
                "{}: the corpus file '{}' ({}) does not exist or is not a file (relative paths are "
                "read from the current directory, {})",
                where(file, e), path, e.key, fs::current_path().string());
}

}  // namespace

StudyTokenizer StudyTokenizer::parse(const std::string& text) {
  if (text == "byte") return {"byte", 0};
  if (text.rfind("bpe:", 0) == 0) {
    const std::string n = text.substr(4);
    PHA_REQUIRE(!n.empty() && n.find_first_not_of("0123456789") == std::string::npos &&
                    n.size() < 10 && std::stoll(n) >= 257,
                "tokenizer '{}': bpe:N needs a vocabulary size N of at least 257", text);
    return {"bpe" + n, std::stoll(n)};
  }
  fail("tokenizer '{}' is unknown: use byte or bpe:N (a BPE of N tokens trained on the corpus)",
       text);
}

StudyVariant StudyVariant::parse(const std::string& text) {
  StudyVariant v;
  v.name = text;
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, '-');) parts.push_back(p);
  const auto unknown = [&](const std::string& why) {
    fail(
        "unknown variant '{}': {}. A variant is <block>[-<modifier>...]: block pha, serial (the "
        "matched Transformer: n_kv = n_q, d_ff = 4d) or a '+'-joined subset of attention, gss, "
        "ffn; modifiers softmax, scalar, channel, heads<K>, window<W> (e.g. pha-channel, "
        "pha-heads2, serial-window64, gss)",
        text, why);
  };
  if (parts.empty() || parts[0].empty()) unknown("no block");
  try {
    v.block = BlockKind::parse(parts[0]);
  } catch (const Error& e) {
    unknown(e.what());
  }
  v.matched_serial = v.block.serial;
  bool mixer_set = false;
  const auto number = [&](const std::string& p, size_t skip) {
    const std::string n = p.substr(skip);
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(n) < 1)
      unknown(fmt::format("'{}' needs a positive number", p.substr(0, skip)));
    return std::stoll(n);
  };
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p == "softmax" || p == "scalar" || p == "channel") {
      if (mixer_set) unknown("two mixers");
      v.mixer = parse_mixer(p);
      mixer_set = true;
    } else if (p.rfind("heads", 0) == 0) {
      v.heads = number(p, 5);
    } else if (p.rfind("window", 0) == 0) {
      v.window = number(p, 6);
    } else {
      unknown(fmt::format("unknown modifier '{}'", p));
    }
  }
  const bool attention = v.block.serial || v.block.attention;
  if ((v.heads || v.window) && !attention) unknown("heads and window need an attention branch");
  if (mixer_set && v.block.serial) unknown("a serial block has no mixer");
  return v;
}

ModelConfig StudyVariant::apply(const ModelConfig& size_model, const std::string& size_name) const {
  ModelConfig m = size_model;
  m.block = block;
  m.mixer = mixer;
  if (heads > 0) {
    const int64_t group = m.n_q / m.n_kv;  // query heads per key/value head, kept
    PHA_REQUIRE(heads <= group || heads % group == 0,
                "variant {} at size {}: {} heads do not form the size's GQA groups of {} query "
                "heads per key/value head: use a multiple of {} or at most {}",
                name, size_name, heads, group, group, group);
    m.d_h = m.head_dim();  // the attention width shrinks to heads x d_h
    m.n_q = heads;
    m.n_kv = heads <= group ? 1 : heads / group;
  }
  if (window > 0) m.attn_window = window;
  if (matched_serial) {
    m.n_kv = m.n_q;
    m.d_ff = 4 * m.d;
  }
  try {
    m.validate();
  } catch (const Error& e) {
    fail("variant {} at size {}: {}", name, size_name, e.what());
  }
  return m;
}

const StudySize& StudySpec::size(const std::string& name) const {
  for (const StudySize& s : sizes)
    if (s.name == name) return s;
  std::string known;
  for (const StudySize& s : sizes) known += (known.empty() ? "" : ", ") + s.name;
  fail("{}: size '{}' is not defined: add a [size.{}] section (sizes: {})", file, name, name,
       known.empty() ? "none" : known);
}

StudySpec read_study_file(const std::string& path) {
  const std::vector<IniSection> sections = read_ini_sections(path);
  StudySpec spec;
  spec.file = path;
  spec.name = fs::path(path).stem().string();
  std::vector<StudyTokenizer> tokenizers{StudyTokenizer::parse("byte")};
  std::vector<int64_t> seq_lens{256}, seeds{1};
  bool has_study = false;
  for (const IniSection& s : sections) {
    if (s.name != "study") continue;
    has_study = true;
    for (const IniEntry& e : s.entries) {
      if (parse_budget(path, e, spec.budget)) continue;
      try {
        if (e.key.find('.') != std::string::npos) {
          PHA_REQUIRE(!kReservedTrainKeys.count(e.key),
                      "{} is set by the study for every cell (from the sizes, variants, "
                      "budgets and seeds)",
                      e.key);
          spec.train_keys.emplace_back(e.key, e.value);
        } else if (e.key == "name") {
          spec.name = e.value;
        } else if (e.key == "dir") {
          spec.dir = e.value;
        } else if (e.key == "train") {
          check_files(path, e, spec.train_files);
        } else if (e.key == "eval") {
          check_files(path, e, spec.eval_files);
        } else if (e.key == "tokenizers") {
          tokenizers.clear();
          for (const std::string& w : parse_words(path, e))
            tokenizers.push_back(StudyTokenizer::parse(w));
        } else if (e.key == "seq_lens") {
          seq_lens = parse_ints(path, e, 1);
        } else if (e.key == "seeds") {
          seeds = parse_ints(path, e, 0);
        } else if (e.key == "ranks") {
          spec.ranks = parse_int(path, e, e.value, 1);
        } else if (e.key == "threads") {
          spec.threads = parse_int(path, e, e.value, 0);
        } else if (e.key == "launcher") {
          spec.launcher = e.value;
        } else if (e.key == "batch_tokens") {
          spec.batch_tokens = parse_int(path, e, e.value, 1);
        } else if (e.key == "evals") {
          spec.evals = parse_int(path, e, e.value, 1);
        } else if (e.key == "eval_bytes") {
          spec.eval_bytes = parse_int(path, e, e.value, 1);
        } else if (e.key == "warmup_fraction") {
          spec.warmup_fraction = std::stod(e.value);
          PHA_REQUIRE(spec.warmup_fraction >= 0 && spec.warmup_fraction < 1,
                      "warmup_fraction = {} must be in [0, 1)", e.value);
        } else {
          unknown_key(path, e, "study",
                      "name, dir, train, eval, tokenizers, seq_lens, seeds, ranks, threads, "
                      "launcher, batch_tokens, evals, eval_bytes, warmup_fraction, tokens, "
                      "text_bytes, and pha train keys as section.key");
        }
      } catch (const std::logic_error& err) {
        fail("{}: {} = '{}' is not a number", where(path, e), e.key, e.value);
      } catch (const Error& err) {
        const std::string msg = err.what();
        if (msg.rfind(path, 0) == 0) throw;
        fail("{}: {}", where(path, e), msg);
      }
    }
  }
  PHA_REQUIRE(has_study, "{}: no [study] section: it names the corpus (train, eval) and defaults",
              path);
  PHA_REQUIRE(!spec.train_files.empty() && !spec.eval_files.empty(),
              "{}: [study] needs the corpus: train = TEXT FILES to train on, eval = TEXT FILES to "
              "evaluate on",
              path);
  if (spec.dir.empty()) spec.dir = "runs/study-" + spec.name;
  for (const IniSection& s : sections)
    if (s.name.rfind("size.", 0) == 0) spec.sizes.push_back(parse_size(path, s));
  for (const IniSection& s : sections) {
    if (s.name == "study" || s.name.rfind("size.", 0) == 0) continue;
    PHA_REQUIRE(s.name.rfind("grid.", 0) == 0,
                "{} line {}: unknown section [{}]: use [study], [size.NAME] or [grid.NAME]", path,
                s.line, s.name);
    spec.grids.push_back(parse_grid(path, s, spec, tokenizers, seq_lens, seeds));
  }
  PHA_REQUIRE(!spec.grids.empty(), "{}: no [grid.NAME] section: nothing to run", path);
  return spec;
}

}  // namespace pha::launch
