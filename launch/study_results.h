#pragma once
// What a study's cells measured, read back from their run directories (metrics.jsonl and the
// markers the runner leaves), and the study's CSV: one row per cell, planner figures included.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "launch/study_cells.h"

namespace pha::launch {

// The markers in a cell's directory: `done` after its final evaluation (pha train exited 0),
// `failed` (the exit status) after a failed run; removed when the cell runs again.
enum class CellStatus { pending, partial, failed, done };
const char* cell_status_name(CellStatus s);
CellStatus cell_status(const StudyCell& cell);

struct CellResult {
  CellStatus status = CellStatus::pending;
  int64_t steps = 0;  // the last step recorded
  int64_t tokens_seen = 0;
  double val_loss = NAN;  // the last evaluation (the final one when done)
  int64_t val_step = -1, val_windows = 0;
  uint64_t val_target_bytes = 0;
  double bits_per_byte = NAN;
  double tokens_per_s = NAN;  // median of the step records after the first fifth (warm-up)
  double peak_rss_mib = NAN;  // the largest of rank 0's step records
  double train_seconds = 0;   // summed step times
};

// Reads `cell`'s metrics.jsonl (missing: a pending cell).
CellResult read_cell_result(const StudyCell& cell, const StudyData& data);

// Writes STUDY_DIR/study.csv (every cell, finished or not) and returns its path.
std::string write_study_csv(const std::string& study_dir, const std::vector<StudyCell>& cells,
                            const std::map<std::string, StudyData>& data);

}  // namespace pha::launch
