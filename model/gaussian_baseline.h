// A yardstick for the flow: one multivariate Gaussian fitted to the same pooled features of good
// images, scoring by the squared Mahalanobis distance (per dimension). If the flow scores below it,
// look at the training; if both are low, look at the features.
#pragma once
#include <ATen/ATen.h>

namespace differnet {

class GaussianBaseline {
 public:
  // `features`: [N,D] features of good images. The covariance is the Ledoit-Wolf estimate: the
  // sample covariance shrunk towards mu*I (mu = its mean variance) by the coefficient that minimises
  // the expected squared error (Ledoit & Wolf 2004, as scikit-learn's ledoit_wolf computes it), so
  // that it inverts and stays well conditioned when N is near or below D.
  void fit(const at::Tensor& features);
  // [N,D] -> [N] squared Mahalanobis distances divided by D.
  at::Tensor distances(const at::Tensor& features) const;
  bool fitted() const { return mean_.defined(); }
  double shrinkage() const { return shrinkage_; }  // the Ledoit-Wolf coefficient in [0,1]

 private:
  at::Tensor mean_, precision_;  // double, on the CPU
  double shrinkage_ = 0.0;
};

// The Ledoit-Wolf shrinkage coefficient of centred samples [N,D] (double).
double ledoit_wolf_shrinkage(const at::Tensor& centred);

// The whitening of features [N,D] (N >= 2): their mean, and the symmetric inverse square root of
// their Ledoit-Wolf covariance (float, on the CPU), so that (f - mean) x matrix has, on these
// samples, the identity as its shrunk covariance. Throws Error on non-finite features.
struct Whitening {
  at::Tensor mean, matrix;
  double shrinkage = 0.0;
  double log_det = 0.0;  // log |det matrix|: log p(features) = log p(whitened features) + log_det
};
Whitening ledoit_wolf_whitening(const at::Tensor& features);

}  // namespace differnet
