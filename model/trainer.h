// Training of the flow on features of good images (the backbone stays frozen), as the authors do:
// Adam (lr 2e-4, betas 0.8/0.8, eps 1e-4, coupled L2 weight decay 1e-5), loss (0.5|z|^2 - logdet)/D,
// 4 random rotations U[-180,180] per image, 24 images per batch, shuffled, last batch smaller.
//
// Feature caching (an option, off by default): the backbone is frozen, so the features of a pool of
// `feature_cache` random rotations per image are computed once and each step draws its 4 rotations
// per image from that pool instead of fresh angles. That trades rotation diversity for speed.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "model.h"

namespace differnet {

struct TrainOptions {
  int epochs = 192;             // meta_epochs 24 x sub_epochs 8
  int batch_size = 24;          // images per step
  int rotations_per_image = 4;  // n_transforms
  double lr = 2e-4, beta1 = 0.8, beta2 = 0.8, eps = 1e-4, weight_decay = 1e-5;
  int feature_cache = 0;        // rotations per image in the cached pool; 0 = fresh rotations every step
  double rotation_deg = 180.0;  // random angles are uniform in +-rotation_deg (RandomRotation(180));
                                // 0 = no rotation: one unrotated copy per image, cached once
  // Gaussian noise of this std added to every (standardised) training feature at every step: keeps
  // the flow from memorising a few hundred training vectors. 0 = none (the method).
  double feature_noise = 0.0;
  uint64_t seed = 0;
  // Good images kept out of training: their loss is computed every `heldout_every` epochs (and after
  // the last), the learning curve that shows whether more epochs still help. Unrotated copies, or the
  // four right-angle rotations when training rotates.
  std::vector<at::Tensor> heldout_images;
  int heldout_every = 4;
  // Raw features of the training images unrotated ([images, D], as fit_local_scorer returns them):
  // without training rotations they are the flow's cache, and the backbone pass is not repeated.
  at::Tensor unrotated_features;
};

struct TrainProgress {
  int epoch = 0, epochs = 0;        // epoch is 1-based; the one in progress
  int step = 0, steps_per_epoch = 0;
  double loss = 0.0;                // mean loss of the steps so far in this epoch
  double heldout_loss = std::nan("");  // the latest held-out loss, NaN before the first
  double elapsed_s = 0.0, remaining_s = 0.0;
  bool caching = false;             // true while the feature pool is being computed
};

struct TrainReport {
  std::vector<double> epoch_losses;
  std::vector<std::pair<int, double>> heldout_losses;  // (epoch, mean held-out loss)
  int epochs_done = 0;
  bool stopped = false;             // stopped by the caller; the flow holds the last finished epoch
  double seconds = 0.0;
  double whitening_shrinkage = -1.0;  // the Ledoit-Wolf coefficient of the whitening; -1 without it
  // log |det W| / D of the whitening W (0 without it). The losses above are per dimension of the
  // features the flow sees; minus this, a whitened model's held-out loss is in the standardised
  // space, comparable with an unwhitened model's (heldout_loss_standardised in the curve).
  double whitening_log_det_per_dim = 0.0;
};

// Fits the pooled Gaussian (model.gaussian, image_score.h) to the training images' unrotated features
// as the flow sees them (standardised, whitened) and marks the configuration as holding it. `raw_features`:
// their raw features [images, D] when at hand (TrainOptions::unrotated_features), else one backbone
// pass computes them. With `set_normalization` (a model whose flow is not trained yet) the
// standardisation and whitening are first fitted to these features, as training without rotations
// fits them. Returns the Ledoit-Wolf shrinkage, or -1 when `stop` was set (nothing fitted).
double fit_pooled_gaussian(Model& model, const std::vector<at::Tensor>& images, const at::Tensor& raw_features,
                           bool set_normalization, const std::atomic<bool>* stop = nullptr);

// PyTorch's Adam (torch.optim.Adam, single-tensor path) with coupled L2 weight decay.
class Adam {
 public:
  Adam(std::vector<at::Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay);
  void step();       // uses and then clears each parameter's .grad()
 private:
  std::vector<at::Tensor> params_, m_, v_;
  double lr_, beta1_, beta2_, eps_, weight_decay_;
  int64_t steps_ = 0;
};

// `images`: resized 8-bit images [1,3,S,S] (uint8, S = input size), good ones only. `progress` is called
// after each step; `stop` (may be null) is polled between steps. Throws Error on bad options or no images.
TrainReport train_flow(Model& model, const std::vector<at::Tensor>& images, const TrainOptions& options,
                       const std::function<void(const TrainProgress&)>& progress = {},
                       const std::atomic<bool>* stop = nullptr);

// Raw (unstandardised) features of `rotations` random rotations (+-rotation_deg) of each image,
// [images, rotations, D], without gradients; an undefined tensor when `stop` is set before the end.
at::Tensor rotation_pool_features(const Model& model, const std::vector<at::Tensor>& images, int rotations,
                                  uint64_t seed, const std::function<void(int done)>& progress = {},
                                  const std::atomic<bool>* stop = nullptr, double rotation_deg = 180.0);

}  // namespace differnet
