// The pictures differnet-eval writes with --out-dir: the ROC curve, and an image beside its heatmap.
// Drawn with OpenCV; a build without it (-Dimage_io=stb) has no pictures.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "metrics.h"

namespace differnet {

void write_roc_picture(const std::vector<RocPoint>& curve, double auc, const std::string& path);
// `levels`: [1,3,S,S] 8-bit levels; `heatmap`: [S,S]. Min-max normalised, JET, blended over the image.
void write_heatmap_picture(const at::Tensor& levels, const at::Tensor& heatmap, const std::string& caption,
                           const std::string& path);

}  // namespace differnet
