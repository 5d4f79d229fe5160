// The training presets of differnet-train. `paper` is the authors' configuration (with the chosen
// backbone); `fast` is the measured choice for a 2-core CPU (README, "Training presets").
#pragma once
#include <string>

#include "config.h"
#include "trainer.h"

namespace differnet::cli {

struct Preset {
  ModelConfig config;
  TrainOptions train;
};

// Throws Error for an unknown name.
Preset preset(const std::string& name);

}  // namespace differnet::cli
