// Training the local flow (local_flow.h) on the whitened cell maps of good images, after the local
// scorer's Gaussian is fitted (local_training.h): maximum likelihood of every cell, on random crops
// of the maps (the flow is fully convolutional, so a crop trains it as the whole map would).
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "model.h"

namespace differnet {

struct LocalFlowTrainOptions {
  int steps = 480;            // optimiser steps per scale slot
  int batch = 8;              // crops per step
  int crop = 24;              // crop side in cells (the whole map where it is smaller)
  double lr = 2e-4;           // Adam (beta 0.9 / 0.999, eps 1e-8), coupled L2 weight decay
  double weight_decay = 1e-5;
  uint64_t seed = 0;          // crops and the order of the images
};

struct LocalFlowProgress {
  int slot = 0, slots = 0, step = 0, steps = 0;
  double loss = 0.0;  // this step's objective (negative log-likelihood per cell and dimension)
};

struct LocalFlowReport {
  // Per slot: the objective averaged over the first and the last tenth of the steps.
  std::vector<double> first_loss, last_loss;
  // Per slot: the negative log-likelihood per cell and dimension of the held-out maps under the
  // Gaussian alone (the untrained flow) and under the trained flow; empty without held-out maps.
  std::vector<double> heldout_gaussian, heldout_flow;
  double seconds = 0.0;
  bool stopped = false;  // stopped by the caller: the flow is back to the identity (the Gaussian)
};

// The whitened cell maps of `images` (resized 8-bit good images [1,3,S,S]) under the model's fitted
// local scorer: per slot, per image, [dim,h,w] half on the CPU.
std::vector<std::vector<at::Tensor>> whitened_cell_maps(const Model& model, const std::vector<at::Tensor>& images);

// Trains model.extractor.local().flow() on `maps` (per slot, per image [dim,h,w], as
// whitened_cell_maps or LocalFitReport::whitened_maps give them); `heldout` (same layout, may be
// empty) only measures. Throws Error when the model has no local flow or a slot has no maps.
LocalFlowReport train_local_flow(Model& model, const std::vector<std::vector<at::Tensor>>& maps,
                                 const std::vector<std::vector<at::Tensor>>& heldout, const LocalFlowTrainOptions& options,
                                 const std::function<void(const LocalFlowProgress&)>& progress = {},
                                 const std::atomic<bool>* stop = nullptr);

}  // namespace differnet
