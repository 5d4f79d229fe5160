// Helpers shared by the test programs: paths, synthetic textures with planted defects, tiny models.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "image_file.h"
#include "model.h"

namespace differnet::fixtures {

std::string source_dir();     // the repository root
std::string build_dir();      // the meson build folder
std::string temp_dir();       // a fresh folder under the build folder, per call
// The device the Detector and element tests run on: $DIFFERNET_TEST_DEVICE (scripts/gpu-check.sh
// sets cuda), else cpu.
std::string test_device();

struct Spot { int x, y, radius; };

// A deterministic woven texture (with jitter and noise from `seed`), optionally with a dark spot.
Image make_texture(int width, int height, uint32_t seed, std::optional<Spot> spot = std::nullopt);

// A small, fast configuration: 128 px input (scales 128/64/32), narrow flow. SqueezeNet weights.
ModelConfig tiny_config(int flow_width = 64);
Model tiny_model(uint64_t seed = 1, int flow_width = 64);

// Resized 8-bit copies of images for the trainer.
std::vector<at::Tensor> resized_for_training(const std::vector<Image>& images, int size);

// A model trained on `count` good textures of `size` px and calibrated on 4 more; saved to `path`.
void train_texture_model(const std::string& path, int size = 96, int count = 12, int epochs = 40);

}  // namespace differnet::fixtures
