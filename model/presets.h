// The training presets of differnet-train and of differnetfilter's learn mode. `paper` is the authors' configuration (with the chosen
// backbone); `fast` is the measured choice for a 2-core CPU (README, "Training presets").
#pragma once
#include <string>

#include "config.h"
#include "trainer.h"

namespace differnet {

struct Preset {
  ModelConfig config;
  TrainOptions train;
  // With few images an epoch is one or two steps: epochs are raised until the flow gets at least
  // this many optimiser steps (0 = none; differnet-train --min-steps). No preset sets it yet: its
  // effect on 16-image training is not measured.
  int min_steps = 0;
};

// Throws Error for an unknown name.
Preset preset(const std::string& name);

}  // namespace differnet
