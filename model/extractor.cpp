#include "extractor.h"

#include <algorithm>

#include "error.h"

namespace differnet {

Extractor::Extractor(Backbone backbone, const ModelConfig& config)
    : backbone_(std::move(backbone)), input_size_(config.input_size), scales_(config.scales) {
  if (backbone_.trunk_channels() != config.trunk_channels)
    throw Error("backbone '" + backbone_.architecture() + "' has " + std::to_string(backbone_.trunk_channels()) +
                " trunk channels, the configuration says " + std::to_string(config.trunk_channels));
  // The smallest scale must still leave a feature map after the trunk's pooling: check once, here,
  // rather than fail deep inside LibTorch on the first image.
  const int smallest = *std::min_element(scales_.begin(), scales_.end());
  try {
    at::NoGradGuard no_grad;
    backbone_.trunk(at::zeros({1, 3, smallest, smallest}));
  } catch (const c10::Error&) {
    throw Error("input size " + std::to_string(input_size_) + " is too small for backbone '" + backbone_.architecture() +
                "': its smallest scale (" + std::to_string(smallest) + " px) leaves no feature map");
  }
}

at::Tensor Extractor::features(const at::Tensor& input, int64_t chunk) const {
  if (input.dim() != 4 || input.size(1) != 3 || input.size(2) != input_size_ || input.size(3) != input_size_)
    throw Error("extractor input must be [N,3," + std::to_string(input_size_) + "," + std::to_string(input_size_) + "]");
  if (chunk <= 0) chunk = input.is_cuda() ? 64 : std::max<int64_t>(1, 2 * 448 * 448 / (int64_t{input_size_} * input_size_));
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < input.size(0); start += chunk) {
    at::Tensor x = input.slice(0, start, std::min(start + chunk, input.size(0)));
    std::vector<at::Tensor> pooled;
    for (int s : scales_) {
      const int step = input_size_ / s;  // legacy nearest with an exact factor reads pixel i*step
      at::Tensor xs = step == 1 ? x : x.slice(2, 0, input_size_, step).slice(3, 0, input_size_, step);
      pooled.push_back(backbone_.trunk(xs).mean({2, 3}).to(at::kFloat));
    }
    parts.push_back(at::cat(pooled, 1));
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts, 0);
}

}  // namespace differnet
