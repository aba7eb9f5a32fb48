#pragma once
// A run's configuration from the INI text a weights file (or a run directory) carries.
#include <string>

#include "launch/train_config.h"

namespace pha::launch {

// Parses `ini` (the text OptionTable::to_ini writes) into a configuration; not yet finalized.
TrainConfig config_from_ini(const std::string& ini);

}  // namespace pha::launch
