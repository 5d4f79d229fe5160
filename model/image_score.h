// How an image's score is made from its pooled features:
//   flow      DifferNet's: the mean of z^2 under the normalizing flow (the method);
//   gaussian  the flow's yardstick: the squared Mahalanobis distance per dimension under one Gaussian
//             fitted to the training images' pooled features (Ledoit-Wolf covariance); closed form,
//             fitted in seconds;
//   combined  the two added, each divided by its spread (standard deviation) over the calibration's
//             good images: the sum of the two standardised scores, shifted by a constant (the same
//             ranking), so that neither dominates by its scale.
// The pooled Gaussian is stored as "gaussian.mean" [D] and "gaussian.matrix" [D,D] (the symmetric
// inverse square root of the covariance): a feature vector f scores |(f - mean) matrix|^2 / D.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "tensor_io.h"

namespace differnet {

enum class ImageScore { Flow, Gaussian, Combined };
const char* image_score_name(ImageScore s);          // "flow", "gaussian", "combined"
ImageScore parse_image_score(const std::string& name);  // throws Error naming the accepted values

class PooledGaussian {
 public:
  // `features`: [N,D] (N >= 2) of good images, as the flow sees them. Throws Error on non-finite ones.
  void fit(const at::Tensor& features);
  bool fitted() const { return mean_.defined(); }
  double shrinkage() const { return shrinkage_; }  // Ledoit-Wolf coefficient of the fit (0 after load)
  // [N,D] -> [N] float: squared Mahalanobis distance divided by D.
  at::Tensor distances(const at::Tensor& features) const;

  TensorMap named_tensors() const;
  // Reads "gaussian.mean" and "gaussian.matrix" from `tensors` (shapes checked against `dim`).
  void load(const TensorMap& tensors, int64_t dim);
  void to(const at::Device& device);

 private:
  at::Tensor mean_, matrix_;  // [D], [D,D] float
  double shrinkage_ = 0.0;
};

}  // namespace differnet
