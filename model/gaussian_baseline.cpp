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

namespace {
struct ShrunkCovariance {
  at::Tensor mean, cov;  // double
  double shrinkage;
};

ShrunkCovariance ledoit_wolf_covariance(const at::Tensor& features, const char* who) {
  if (features.dim() != 2 || features.size(0) < 2) throw Error(std::string(who) + " needs at least 2 feature vectors");
  at::Tensor f = features.detach().to(at::kCPU, at::kDouble);
  if (!at::isfinite(f).all().item<bool>()) throw Error(std::string(who) + " was given non-finite features");
  ShrunkCovariance r;
  r.mean = f.mean(0);
  at::Tensor centred = f - r.mean;
  const double n = static_cast<double>(f.size(0)), p = static_cast<double>(f.size(1));
  r.shrinkage = ledoit_wolf_shrinkage(centred);
  at::Tensor emp_cov = centred.t().mm(centred) / n;
  const double mu = emp_cov.trace().item<double>() / p;
  r.cov = (1.0 - r.shrinkage) * emp_cov;
  r.cov.diagonal().add_(r.shrinkage * mu);
  if (r.shrinkage == 0.0) r.cov.diagonal().add_(1e-9 * std::max(mu, 1e-300));  // a singular sample covariance
  return r;
}
}  // namespace

void GaussianBaseline::fit(const at::Tensor& features) {
  ShrunkCovariance c = ledoit_wolf_covariance(features, "the Gaussian baseline");
  mean_ = c.mean;
  shrinkage_ = c.shrinkage;
  precision_ = at::linalg_inv(c.cov);
}

Whitening ledoit_wolf_whitening(const at::Tensor& features) {
  ShrunkCovariance c = ledoit_wolf_covariance(features, "feature whitening");
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(c.cov);
  // The covariance is symmetric positive definite (shrunk, or given a tiny ridge); clamp rounding.
  const double floor = std::max(1e-12 * eigenvalues.max().item<double>(), 1e-300);
  const at::Tensor clamped = eigenvalues.clamp_min(floor);
  at::Tensor matrix = (eigenvectors * clamped.rsqrt()).mm(eigenvectors.t());
  const double log_det = -0.5 * clamped.log().sum().item<double>();
  return {c.mean.to(at::kFloat), matrix.to(at::kFloat), c.shrinkage, log_det};
}

at::Tensor GaussianBaseline::distances(const at::Tensor& features) const {
  if (!fitted()) throw Error("the Gaussian baseline is not fitted");
  at::Tensor d = features.detach().to(at::kCPU, at::kDouble) - mean_;
  return (d.mm(precision_) * d).sum(1) / static_cast<double>(d.size(1));
}

}  // namespace differnet
