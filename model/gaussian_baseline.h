// A yardstick for the flow: one multivariate Gaussian fitted to the same pooled features of good
// images, scoring by the squared Mahalanobis distance (per dimension). If the flow scores below it,
// look at the training; if both are low, look at the features.
#pragma once
#include <ATen/ATen.h>

namespace differnet {

class GaussianBaseline {
 public:
  // `features`: [N,D] features of good images. The covariance is shrunk towards a multiple of the
  // identity (shrinkage * trace/D added to the diagonal) so that it inverts when N is near D.
  void fit(const at::Tensor& features, double shrinkage = 0.01);
  // [N,D] -> [N] squared Mahalanobis distances divided by D.
  at::Tensor distances(const at::Tensor& features) const;
  bool fitted() const { return mean_.defined(); }

 private:
  at::Tensor mean_, precision_;  // double, on the CPU
};

}  // namespace differnet
