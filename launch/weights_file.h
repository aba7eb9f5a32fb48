#pragma once
// Exported weights: RUN/weights.h5 with /model/<name> datasets (global shapes, names of model.md),
// the reference's configuration attributes (d, n_q, ..., block, mixer) and the whole run
// configuration as text (attribute "config"), readable by h5py and by tests/reference/pha_ref.py.
#include <string>

#include "layers/model.h"

namespace pha::launch {

void save_weights(const std::string& path, Model& model, const std::string& config_ini);
void load_weights(const std::string& path, Model& model);
// The "config" attribute of a weights file (the INI text of the run that wrote it).
std::string weights_config_text(const std::string& path);

}  // namespace pha::launch
