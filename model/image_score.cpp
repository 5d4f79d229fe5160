#include "image_score.h"

#include "error.h"
#include "gaussian_baseline.h"

namespace differnet {

const char* image_score_name(ImageScore s) {
  switch (s) {
    case ImageScore::Flow: return "flow";
    case ImageScore::Gaussian: return "gaussian";
    case ImageScore::Combined: return "combined";
  }
  return "flow";
}

ImageScore parse_image_score(const std::string& name) {
  if (name == "flow") return ImageScore::Flow;
  if (name == "gaussian") return ImageScore::Gaussian;
  if (name == "combined") return ImageScore::Combined;
  throw Error("image score '" + name + "' is not one of flow, gaussian, combined");
}

void PooledGaussian::fit(const at::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2)
    throw Error("the pooled Gaussian needs at least 2 feature vectors [N,D]");
  const Whitening w = ledoit_wolf_whitening(features.detach().to(at::kCPU, at::kFloat));
  mean_ = w.mean.contiguous();
  matrix_ = w.matrix.contiguous();
  shrinkage_ = w.shrinkage;
}

at::Tensor PooledGaussian::distances(const at::Tensor& features) const {
  if (!fitted()) throw Error("the pooled Gaussian is not fitted");
  const at::Tensor f = features.to(matrix_.device(), at::kFloat);
  return (f - mean_).mm(matrix_).pow(2).mean(1);
}

TensorMap PooledGaussian::named_tensors() const {
  if (!fitted()) return {};
  return {{"gaussian.mean", mean_.to(at::kCPU).contiguous()}, {"gaussian.matrix", matrix_.to(at::kCPU).contiguous()}};
}

void PooledGaussian::load(const TensorMap& tensors, int64_t dim) {
  const auto m = tensors.find("gaussian.mean"), a = tensors.find("gaussian.matrix");
  if (m == tensors.end() || a == tensors.end())
    throw Error("the configuration's image score needs the pooled Gaussian, but gaussian.mean/gaussian.matrix are missing");
  if (m->second.dim() != 1 || m->second.size(0) != dim)
    throw Error("gaussian.mean must be [" + std::to_string(dim) + "]");
  if (a->second.dim() != 2 || a->second.size(0) != dim || a->second.size(1) != dim)
    throw Error("gaussian.matrix must be [" + std::to_string(dim) + "," + std::to_string(dim) + "]");
  if (!at::isfinite(m->second).all().item<bool>() || !at::isfinite(a->second).all().item<bool>())
    throw Error("the pooled Gaussian holds non-finite values");
  mean_ = m->second.to(at::kFloat).contiguous();
  matrix_ = a->second.to(at::kFloat).contiguous();
  shrinkage_ = 0.0;
}

void PooledGaussian::to(const at::Device& device) {
  if (!fitted()) return;
  mean_ = mean_.to(device);
  matrix_ = matrix_.to(device);
}

}  // namespace differnet
