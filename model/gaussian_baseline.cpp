#include "gaussian_baseline.h"

#include "error.h"

namespace differnet {

void GaussianBaseline::fit(const at::Tensor& features, double shrinkage) {
  if (features.dim() != 2 || features.size(0) < 2) throw Error("the Gaussian baseline needs at least 2 feature vectors");
  at::Tensor f = features.detach().to(at::kCPU, at::kDouble);
  mean_ = f.mean(0);
  at::Tensor centred = f - mean_;
  at::Tensor cov = centred.t().mm(centred) / static_cast<double>(f.size(0) - 1);
  const double ridge = shrinkage * cov.trace().item<double>() / static_cast<double>(f.size(1));
  cov += ridge * at::eye(f.size(1), at::kDouble);
  precision_ = at::linalg_inv(cov);
}

at::Tensor GaussianBaseline::distances(const at::Tensor& features) const {
  if (!fitted()) throw Error("the Gaussian baseline is not fitted");
  at::Tensor d = features.detach().to(at::kCPU, at::kDouble) - mean_;
  return (d.mm(precision_) * d).sum(1) / static_cast<double>(d.size(1));
}

}  // namespace differnet
