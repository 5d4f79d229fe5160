// The multi-scale feature extractor f_ex: the backbone trunk at the input size and at nearest
// subsamplings of the normalised input (448 -> 224 -> 112: x[..., ::2, ::2], x[..., ::4, ::4]), each map
// global-average-pooled, concatenated in scale order into one vector of D = channels x scales.
// With several layers (config.layers), each scale contributes the pooled maps of each layer, in the
// configured order. With config.standardize, the vector is then standardised per dimension, and with
// config.whiten whitened (centred, times the inverse square root of its Ledoit-Wolf covariance).
#pragma once
#include <ATen/ATen.h>

#include "backbone.h"
#include "config.h"
#include "local_scorer.h"

namespace differnet {

class Extractor {
 public:
  Extractor(Backbone backbone, const ModelConfig& config);

  // [N,3,S,S] normalised copies -> [N,D] float features, whatever the backbone's precision. Runs in
  // chunks to bound memory; differentiable with respect to the input (localization needs that), the
  // backbone weights never need gradients.
  // chunk 0: 64 images per batch on a GPU (the paper's T=64 in one batch); on the CPU as many as
  // make two 448-px images (2 at 448 px, 24 at 128 px): larger CPU batches get slower per image
  // (differnet-bench, T=8 on 2 cores: backbone 413 ms in chunks of 2, 1268 ms in one batch of 8).
  // With `local_map` (a model with a local scorer): also each copy's local anomaly map [N,S/4,S/4]
  // (S = the input size; local_scorer.h), from the same backbone pass, without gradients.
  at::Tensor features(const at::Tensor& input, int64_t chunk = 0, at::Tensor* local_map = nullptr) const;

  // The pooled features before standardisation (what the standardisation statistics are taken of).
  at::Tensor raw_features(const at::Tensor& input, int64_t chunk = 0, at::Tensor* local_map = nullptr) const;

  // The local scorer's transformed cells of `input` ([N,3,S,S]) per slot ([N,h,w,dim] each), without
  // gradients; of an unfitted scorer, the projected cells its fit takes. With `raw`: also what
  // raw_features() gives, from the same backbone pass.
  std::vector<at::Tensor> local_cells(const at::Tensor& input, int64_t chunk = 0, at::Tensor* raw = nullptr) const;
  const LocalScorer& local() const { return local_; }
  LocalScorer& local() { return local_; }

  // The per-dimension mean and std ([D] float) that features() subtracts and divides by; only with
  // config.standardize. Throws Error on a wrong shape, a non-finite value or a std <= 0.
  void set_standardization(const at::Tensor& mean, const at::Tensor& std);
  bool standardizes() const { return standardize_; }

  // With config.whiten: the centre ([D]) and the symmetric whitening matrix ([D,D], float) applied to
  // the standardised features: (f - centre) x matrix. Identity until set. Throws Error on a wrong
  // shape or a non-finite value.
  void set_whitening(const at::Tensor& centre, const at::Tensor& matrix);
  bool whitens() const { return whiten_; }
  const at::Tensor& whitening_centre() const { return whiten_centre_; }
  const at::Tensor& whitening_matrix() const { return whiten_matrix_; }

  // Raw pooled features ([..., D]) -> what features() returns: standardised, then whitened, as
  // configured (the trainer applies it to its cached features).
  at::Tensor normalize(const at::Tensor& raw) const;
  const at::Tensor& feature_mean() const { return mean_; }
  const at::Tensor& feature_std() const { return std_; }

  const Backbone& backbone() const { return backbone_; }
  Backbone& backbone() { return backbone_; }
  void to(const at::Device& device, at::ScalarType dtype = at::kFloat);
  // The int8 backbone's activation ranges (Backbone::set_int8) of `input` ([N,3,S,S]), at every
  // scale: each the largest over the scales. Float weights, no gradients.
  std::vector<double> int8_ranges(const at::Tensor& input) const;

 private:
  Backbone backbone_;
  int input_size_;
  std::vector<int> scales_;
  std::vector<std::string> layers_;
  std::vector<std::string> tap_layers_;  // layers_, then the local scorer's layers not among them
  std::vector<size_t> local_taps_;       // where each local layer sits in tap_layers_
  LocalScorer local_;
  bool standardize_ = false;
  at::Tensor mean_, std_;  // [D] float, on the backbone's device; defined only when standardising
  bool whiten_ = false;
  at::Tensor whiten_centre_, whiten_matrix_;  // [D] and [D,D] float; defined only when whitening
};

}  // namespace differnet
