#include "gaussian_baseline.h"

#include <algorithm>

#include "error.h"

namespace differnet {

double ledoit_wolf_shrinkage(const at::Tensor& x) {
  // scikit-learn's ledoit_wolf_shrinkage (assume_centered, one block), in double precision.
  const double n = static_cast<double>(x.size(0)), p = static_cast<double>(x.size(1));
  const at::Tensor x2 = x.pow(2);
  const at::Tensor emp_cov_trace = x2.sum(0) / n;
  const double mu = emp_cov_trace.sum().item<double>() / p;
  const double beta_ = x2.t().mm(x2).sum().item<double>();
  const double delta_ = x.t().mm(x).pow(2).sum().item<double>() / (n * n);
  double beta = 1.0 / (p * n) * (beta_ / n - delta_);
  double delta = (delta_ - 2.0 * mu * emp_cov_trace.sum().item<double>() + p * mu * mu) / p;
  beta = std::min(beta, delta);
  return beta <= 0 || delta <= 0 ? 0.0 : beta / delta;
}

void GaussianBaseline::fit(const at::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2) throw Error("the Gaussian baseline needs at least 2 feature vectors");
  at::Tensor f = features.detach().to(at::kCPU, at::kDouble);
  if (!at::isfinite(f).all().item<bool>()) throw Error("the Gaussian baseline was given non-finite features");
  mean_ = f.mean(0);
  at::Tensor centred = f - mean_;
  const double n = static_cast<double>(f.size(0)), p = static_cast<double>(f.size(1));
  shrinkage_ = ledoit_wolf_shrinkage(centred);
  at::Tensor emp_cov = centred.t().mm(centred) / n;
  const double mu = emp_cov.trace().item<double>() / p;
  at::Tensor cov = (1.0 - shrinkage_) * emp_cov;
  cov.diagonal().add_(shrinkage_ * mu);
  if (shrinkage_ == 0.0) cov.diagonal().add_(1e-9 * std::max(mu, 1e-300));  // a singular sample covariance
  precision_ = at::linalg_inv(cov);
}

at::Tensor GaussianBaseline::distances(const at::Tensor& features) const {
  if (!fitted()) throw Error("the Gaussian baseline is not fitted");
  at::Tensor d = features.detach().to(at::kCPU, at::kDouble) - mean_;
  return (d.mm(precision_) * d).sum(1) / static_cast<double>(d.size(1));
}

}  // namespace differnet
