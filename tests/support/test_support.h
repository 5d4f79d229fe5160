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
// An untrained tiny model whose flow starts near the identity: scores of the order of the features'
// squares, so that comparisons of two computations are well conditioned.
Model tiny_model(uint64_t seed = 1, int flow_width = 64);

// The relative tolerance of a comparison between two float32 computations of the same value (batched
// against alone, another thread count, another code path, another CPU's kernels): each computes the
// same sums in another order. A sum of K terms computed in any order is within K * 2^-24 of the sum
// of the terms' magnitudes (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1), and the
// errors of sums in series add up, so the bound is 2^-24 times the terms of every sum in series
// (`summed_terms`), times `gain` (how much what follows can amplify a relative error), times 4 for
// the magnitudes' excess over the result.
double float32_tolerance(int64_t summed_terms, double gain = 1.0);
// The terms summed in series from pixels to the tiny model's score: SqueezeNet 1.1's convolutions up
// to its last layer (5,339: 27 + the fire layers' squeeze and expand sums), the flow's subnets
// (2 per block, each a sum of D/2 then `hidden_layers` of `width`) and the mean over D (1,536).
int64_t tiny_model_summed_terms(int flow_width = 64);
// The tiny model's score (and, with gradient = true, its gradient map: the backward pass doubles
// the sums in series) compared across two computations: float32_tolerance of the terms above.
double tiny_model_tolerance(int flow_width = 64, bool gradient = false);

// Resized 8-bit copies of images for the trainer.
std::vector<at::Tensor> resized_for_training(const std::vector<Image>& images, int size);

// A model trained on `count` good textures of `size` px and calibrated on 4 more; saved to `path`.
// With `local`: also a local scorer (fire5 + fire7, 64 dimensions, the finest scale only: at 128 px
// the coarser ones leave 3 x 3 and 1 x 1 cells), fitted on the same textures.
void train_texture_model(const std::string& path, int size = 96, int count = 12, int epochs = 40, bool local = false);

}  // namespace differnet::fixtures
