#include "launch/study_results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/json_value.h"

namespace fs = std::filesystem;

namespace pha::launch {
namespace {

double number(const io::JsonValue& record, const char* key, const std::string& where) {
  const io::JsonValue* v = record.find(key);
  return v && v->is(io::JsonValue::Kind::number) ? v->as_double(where) : NAN;
}

// "" for a missing value, so the CSV's empty cells mean "not measured".
std::string fmt_or_empty(double v, const char* format = "{:.6g}") {
  return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : std::string();
}

}  // namespace

const char* cell_status_name(CellStatus s) {
  switch (s) {
    case CellStatus::pending:
      return "pending";
    case CellStatus::partial:
      return "partial";
    case CellStatus::failed:
      return "failed";
    case CellStatus::done:
      return "done";
  }
  return "?";
}

CellStatus cell_status(const StudyCell& cell) {
  const fs::path dir(cell.dir);
  if (fs::exists(dir / "done")) return CellStatus::done;
  if (fs::exists(dir / "failed")) return CellStatus::failed;
  if (fs::exists(dir / "metrics.jsonl")) return CellStatus::partial;
  return CellStatus::pending;
}

CellResult read_cell_result(const StudyCell& cell, const StudyData& data) {
  CellResult r;
  r.status = cell_status(cell);
  const fs::path path = fs::path(cell.dir) / "metrics.jsonl";
  std::ifstream in(path);
  if (!in.good()) return r;
  std::vector<double> rates;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const std::string where = fmt::format("{} line {}", path.string(), n);
    io::JsonValue rec;
    try {
      rec = io::parse_json(line, where);
    } catch (const Error&) {
      continue;  // a line cut by a killed run: the records before and after it still count
    }
    const io::JsonValue* kind = rec.find("kind");
    if (!kind || !kind->is(io::JsonValue::Kind::string)) continue;
    if (kind->text == "step") {
      r.steps = static_cast<int64_t>(number(rec, "step", where));
      r.tokens_seen = static_cast<int64_t>(number(rec, "tokens_seen", where));
      const double rate = number(rec, "tokens_per_s", where);
      if (std::isfinite(rate) && rate > 0) {
        rates.push_back(rate);
        // tokens of the step over its rate: the step's seconds
        r.train_seconds += double(cell.cfg.train.batch_size * cell.seq_len * cell.ranks) / rate;
      }
      const double rss = number(rec, "peak_rss_mib", where);
      if (std::isfinite(rss))
        r.peak_rss_mib = std::isfinite(r.peak_rss_mib) ? std::max(r.peak_rss_mib, rss) : rss;
    } else if (kind->text == "eval" && !cell.throughput) {  // a throughput cell's is no result
      r.val_loss = number(rec, "val_loss", where);
      r.val_step = static_cast<int64_t>(number(rec, "step", where));
      r.val_windows = static_cast<int64_t>(number(rec, "val_windows", where));
    }
  }
  if (!rates.empty()) {
    const size_t skip = std::max<size_t>(1, rates.size() / 5);
    std::vector<double> timed(rates.begin() + static_cast<long>(std::min(skip, rates.size() - 1)),
                              rates.end());
    std::nth_element(timed.begin(), timed.begin() + static_cast<long>(timed.size() / 2),
                     timed.end());
    r.tokens_per_s = timed[timed.size() / 2];
  }
  if (!cell.throughput && r.val_windows > 0 && std::isfinite(r.val_loss)) {
    r.val_target_bytes = eval_target_bytes(data, cell.seq_len, r.val_windows);
    if (r.val_target_bytes > 0)
      r.bits_per_byte = r.val_loss * double(r.val_windows * (cell.seq_len - 1)) /
                        (std::log(2.0) * double(r.val_target_bytes));
  }
  return r;
}

std::string write_study_csv(const std::string& study_dir, const std::vector<StudyCell>& cells,
                            const std::map<std::string, StudyData>& data) {
  const fs::path path = fs::path(study_dir) / "study.csv";
  const fs::path tmp = fs::path(study_dir) / "study.csv.partial";
  std::ofstream out(tmp);
  PHA_REQUIRE(out.good(), "cannot write '{}': check the study dir", tmp.string());
  out << "cell,kind,grid,tokenizer,size,variant,block,mixer,d,layers,n_q,n_kv,d_h,d_ff,gss_f,"
         "gss_h,dss_n,attn_window,vocab,seq_len,seed,ranks,batch_size,steps,tokens,params,"
         "flops_per_token,plan_mib,plan_activations_mib,status,steps_done,tokens_seen,val_step,"
         "val_loss,val_ppl,bits_per_byte,val_windows,val_target_bytes,tokens_per_s,peak_rss_mib,"
         "train_seconds,run_dir\n";
  for (const StudyCell& c : cells) {
    const CellResult r = read_cell_result(c, data.at(c.tokenizer));
    const ModelConfig& m = c.cfg.model;
    out << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},",
                       c.id, c.throughput ? "throughput" : "train", c.grid, c.tokenizer, c.size,
                       c.variant, m.block.str(), mixer_name(m.mixer), m.d, m.n_layers, m.n_q,
                       m.n_kv, m.head_dim(), m.d_ff, m.gss_f, m.gss_h, m.dss_n, m.attn_window,
                       m.vocab, c.seq_len, c.seed, c.ranks, c.cfg.train.batch_size,
                       c.cfg.train.steps);
    out << fmt::format("{},{},{:.6g},{:.3f},{:.3f},{},{},{},{},", c.tokens(), c.params,
                       c.flops_per_token, double(c.plan_bytes) / 1048576.0,
                       double(c.plan_activations) / 1048576.0, cell_status_name(r.status), r.steps,
                       r.tokens_seen, r.val_step >= 0 ? std::to_string(r.val_step) : "");
    out << fmt::format("{},{},{},{},{},{},{},{:.2f},{}\n", fmt_or_empty(r.val_loss, "{:.6f}"),
                       fmt_or_empty(std::exp(r.val_loss)), fmt_or_empty(r.bits_per_byte, "{:.6f}"),
                       r.val_windows ? std::to_string(r.val_windows) : "",
                       r.val_target_bytes ? std::to_string(r.val_target_bytes) : "",
                       fmt_or_empty(r.tokens_per_s), fmt_or_empty(r.peak_rss_mib, "{:.1f}"),
                       r.train_seconds, fs::relative(c.dir, study_dir).string());
  }
  out.close();
  PHA_REQUIRE(out.good(), "writing '{}' failed: check the disk", tmp.string());
  fs::rename(tmp, path);
  return path.string();
}

}  // namespace pha::launch
