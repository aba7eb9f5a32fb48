#pragma once
// Runs a study's cells: each as a `pha train` subprocess (behind the study's launcher prefix) with
// its log in the cell's directory, resumable; or all unfinished cells as one Slurm job array.
#include <string>
#include <vector>

#include "launch/study_cells.h"

namespace pha::launch {

// Refuses a cell whose existing cell.ini differs from its configuration (the study file changed
// under a started cell).
void check_cell_config(const StudyCell& cell);
// Creates the cell's directory and cell.ini (after check_cell_config).
void setup_cell(const StudyCell& cell);

// Runs `cell` to its end (`--train.resume=auto`: an interrupted cell continues from its last
// checkpoint) with `overrides` appended to pha train's arguments; the output goes to
// CELL/train.log. Writes the `done` marker (and removes the finished cell's checkpoints) or the
// `failed` one, and returns pha train's exit status. A
// SIGINT, SIGTERM or SIGUSR1 to this process is passed on as SIGUSR1 (pha train checkpoints and
// exits 75); `interrupted()` then stays true.
int run_cell(const StudySpec& spec, const StudyCell& cell,
             const std::vector<std::string>& overrides);
bool interrupted();
// Installs the handlers that run_cell's forwarding needs.
void install_study_signal_handlers();

// Submits `cells` as a Slurm job array of slurm/study-cell.sbatch (one array task per cell,
// `spec.ranks` tasks each) with `sbatch_args` added to sbatch's options; returns sbatch's status.
int submit_slurm(const StudySpec& spec, const std::vector<const StudyCell*>& cells,
                 const std::vector<std::string>& overrides, const std::string& sbatch_args);

// Takes an exclusive lock on DIR/study.lock for the life of this process; refuses when another
// `pha study` holds it (two studies would run the same cells at once).
void lock_study_dir(const std::string& dir);

// Runs `program` with `args` (stdout and stderr inherited) and returns its exit status (127 when
// it cannot start).
int run_program(const std::string& program, const std::vector<std::string>& args);

// The repository root (the slurm/ scripts and tools/plot_study.py): $PHA_HOME, else the source
// directory this binary was built from.
std::string pha_home();

}  // namespace pha::launch
