// Fitting the local scorer (local_scorer.h) from good images: closed form (a mean and a Ledoit-Wolf
// covariance per scale), one backbone pass per image, no flow training; seconds to a few minutes.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "model.h"

namespace differnet {

struct LocalFitReport {
  int images = 0;
  std::vector<int64_t> cells;        // per slot: the cells the Gaussian was fitted on
  std::vector<double> shrinkage;     // per slot: the Ledoit-Wolf coefficient
  double seconds = 0.0;
  bool stopped = false;              // stopped by the caller; the scorer is left unfitted
  // The raw pooled features of the images ([images, D]), from the same backbone pass: the flow's
  // training takes them as its cache when it does not rotate (TrainOptions::unrotated_features).
  at::Tensor raw_features;
  // Only for a model with a local flow: per slot, per image, the whitened cell map [dim,h,w] (half,
  // CPU) that the flow trains on (local_flow_training.h).
  std::vector<std::vector<at::Tensor>> whitened_maps;
};

// At most this many cells per slot enter the covariance (a seeded random subset, the same number from
// every image): 100,000 cells of 256 dimensions are 100 MB.
constexpr int64_t kMaxLocalFitCells = 100000;

// `images`: resized 8-bit good images [1,3,S,S] (uint8, S = the input size), unrotated. Throws Error
// when the model has no local scorer or fewer than 1 image is given. `progress` gets the images done.
LocalFitReport fit_local_scorer(Model& model, const std::vector<at::Tensor>& images, uint64_t seed,
                                const std::function<void(int done)>& progress = {},
                                const std::atomic<bool>* stop = nullptr);

}  // namespace differnet
