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
  if (features.dim() != 2 || features.size(0) < 2) throw Error("feature whitening needs at least 2 feature vectors");
  const int64_t n = features.size(0), p = features.size(1);
  if (n > p) {  // more samples than dimensions: through the D x D covariance
    ShrunkCovariance c = ledoit_wolf_covariance(features, "feature whitening");
    auto [eigenvalues, eigenvectors] = at::linalg_eigh(c.cov);
    // The covariance is symmetric positive definite (shrunk, or given a tiny ridge); clamp rounding.
    const double floor = std::max(1e-12 * eigenvalues.max().item<double>(), 1e-300);
    const at::Tensor clamped = eigenvalues.clamp_min(floor);
    at::Tensor matrix = (eigenvectors * clamped.rsqrt()).mm(eigenvectors.t());
    const double log_det = -0.5 * clamped.log().sum().item<double>();
    return {c.mean.to(at::kFloat), matrix.to(at::kFloat), c.shrinkage, log_det};
  }
  // Fewer samples than dimensions (a few hundred images of a 3072-dimensional feature): the same
  // matrix from the n x n Gram matrix. The sample covariance S = X'X/n (X centred) is nonzero only on
  // the span of X's rows, where its eigenvectors are X'u/sqrt(n lambda) for the Gram matrix XX'/n's
  // eigenpairs (lambda, u); the shrunk covariance (1-s) S + s mu I has eigenvalues (1-s) lambda + c
  // there (c = s mu) and c elsewhere, so its inverse square root is c^-1/2 I plus a rank-n correction:
  // n^2 p work instead of an eigendecomposition of p x p.
  at::Tensor f = features.detach().to(at::kCPU, at::kDouble);
  if (!at::isfinite(f).all().item<bool>()) throw Error("feature whitening was given non-finite features");
  const at::Tensor mean = f.mean(0);
  const at::Tensor x = f - mean;
  const double shrinkage = ledoit_wolf_shrinkage(x);
  const double mu = x.pow(2).sum().item<double>() / (static_cast<double>(n) * static_cast<double>(p));
  double c = shrinkage * mu;
  if (shrinkage == 0.0) c = 1e-9 * std::max(mu, 1e-300);  // a singular sample covariance: the same tiny ridge
  c = std::max(c, 1e-300);
  auto [lambda, u] = at::linalg_eigh(x.mm(x.t()) / static_cast<double>(n));
  const at::Tensor keep = lambda > 1e-12 * std::max(lambda.max().item<double>(), 1e-300);
  const at::Tensor l = lambda.masked_select(keep);
  const at::Tensor uk = u.index({at::indexing::Slice(), keep});
  const at::Tensor v = x.t().mm(uk) / (l * static_cast<double>(n)).sqrt();  // [p, r], orthonormal columns
  const at::Tensor shrunk = (1.0 - shrinkage) * l + c;                     // eigenvalues on the span
  const at::Tensor d = shrunk.rsqrt() - 1.0 / std::sqrt(c);
  at::Tensor matrix = (v * d).mm(v.t());
  matrix.diagonal().add_(1.0 / std::sqrt(c));
  const double log_det =
      -0.5 * (shrunk.log().sum().item<double>() + static_cast<double>(p - l.size(0)) * std::log(c));
  return {mean.to(at::kFloat), matrix.to(at::kFloat), shrinkage, log_det};
}

at::Tensor GaussianBaseline::distances(const at::Tensor& features) const {
  if (!fitted()) throw Error("the Gaussian baseline is not fitted");
  at::Tensor d = features.detach().to(at::kCPU, at::kDouble) - mean_;
  return (d.mm(precision_) * d).sum(1) / static_cast<double>(d.size(1));
}

}  // namespace differnet
