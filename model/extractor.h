// The multi-scale feature extractor f_ex: the backbone trunk at the input size and at nearest
// subsamplings of the normalised input (448 -> 224 -> 112: x[..., ::2, ::2], x[..., ::4, ::4]), each map
// global-average-pooled, concatenated in scale order into one vector of D = channels x scales.
#pragma once
#include <ATen/ATen.h>

#include "backbone.h"
#include "config.h"

namespace differnet {

class Extractor {
 public:
  Extractor(Backbone backbone, const ModelConfig& config);

  // [N,3,S,S] normalised copies -> [N,D] features. Runs in chunks to bound memory; differentiable
  // with respect to the input (localization needs that), the backbone weights never need gradients.
  at::Tensor features(const at::Tensor& input, int64_t chunk = 16) const;

  const Backbone& backbone() const { return backbone_; }
  void to(const at::Device& device) { backbone_.to(device); }

 private:
  Backbone backbone_;
  int input_size_;
  std::vector<int> scales_;
};

}  // namespace differnet
