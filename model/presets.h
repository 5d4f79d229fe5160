// The training presets of differnet-train and of differnetfilter's learn mode. `paper` is the authors' configuration (with the chosen
// backbone); `fast` is the measured choice for a 2-core CPU (README, "Training presets").
#pragma once
#include <string>
#include <vector>

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
  // fast and accurate: choose the image score after training among flow, gaussian and combined, on
  // the held-out good images with synthetic defects planted (image_score_choice.h; differnet-train
  // --image-score auto); config.image_score.method is the score taken when too few are held out.
  bool choose_image_score = false;
};

// Throws Error for an unknown name.
Preset preset(const std::string& name);

// Sets the network input side; the pooled scales keep their fractions of it (448,224,112 at 448 ->
// 128,64,32 at 128). Used by differnet-train's --input-size and learn mode's input-size.
void set_input_size(ModelConfig& config, int size);
// The layers the local scorer reads by default on a backbone: one at stride 8 and one at stride 16,
// as PatchCore's layers 2 and 3 (ResNet50-v2: stage2, stage3; SqueezeNet 1.1: fire5, fire7;
// MobileNetV2: block6, block13; AlexNet: conv3, conv5). Throws Error for an unknown backbone.
std::vector<std::string> default_local_layers(const std::string& architecture);

// Sets the number of coupling blocks, with their permutation seeds 0..N-1 (--flow-blocks).
void set_flow_blocks(ModelConfig& config, int blocks);

}  // namespace differnet
