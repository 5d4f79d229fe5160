#include "extractor.h"

#include <algorithm>

#include "error.h"

namespace differnet {

Extractor::Extractor(Backbone backbone, const ModelConfig& config)
    : backbone_(std::move(backbone)),
      input_size_(config.input_size),
      scales_(config.scales),
      layers_(config.layers),
      tap_layers_(config.layers),
      local_(config),
      standardize_(config.standardize),
      whiten_(config.whiten) {
  if (backbone_.trunk_channels() != config.trunk_channels)
    throw Error("backbone '" + backbone_.architecture() + "' has " + std::to_string(backbone_.trunk_channels()) +
                " trunk channels, the configuration says " + std::to_string(config.trunk_channels));
  const std::vector<int> channels = config.channels_per_layer();
  if (layers_.size() != channels.size())
    throw Error("the configuration gives " + std::to_string(channels.size()) + " channel counts for " +
                std::to_string(layers_.size()) + " layers");
  for (size_t i = 0; i < layers_.size(); ++i)
    if (backbone_.layer_channels(layers_[i]) != channels[i])
      throw Error("backbone layer '" + layers_[i] + "' has " + std::to_string(backbone_.layer_channels(layers_[i])) +
                  " channels, the configuration says " + std::to_string(channels[i]));
  for (size_t i = 0; i < config.local.layers.size(); ++i) {
    const std::string& layer = config.local.layers[i];
    if (backbone_.layer_channels(layer) != config.local.layer_channels[i])
      throw Error("backbone layer '" + layer + "' has " + std::to_string(backbone_.layer_channels(layer)) +
                  " channels, the local scorer's configuration says " + std::to_string(config.local.layer_channels[i]));
    auto it = std::find(tap_layers_.begin(), tap_layers_.end(), layer);
    if (it == tap_layers_.end()) it = tap_layers_.insert(tap_layers_.end(), layer);
    local_taps_.push_back(static_cast<size_t>(it - tap_layers_.begin()));
  }
  if (standardize_) {  // identity until set_standardization (a new model before training)
    const int64_t d = config.feature_dim();
    mean_ = at::zeros({d}, at::kFloat);
    std_ = at::ones({d}, at::kFloat);
  }
  if (whiten_) {
    const int64_t d = config.feature_dim();
    whiten_centre_ = at::zeros({d}, at::kFloat);
    whiten_matrix_ = at::eye(d, at::kFloat);
  }
  // The smallest scale must still leave a feature map after the trunk's pooling: check once, here,
  // rather than fail deep inside LibTorch on the first image.
  const int smallest = *std::min_element(scales_.begin(), scales_.end());
  try {
    at::NoGradGuard no_grad;
    backbone_.taps(at::zeros({1, 3, smallest, smallest}), tap_layers_);
  } catch (const c10::Error&) {
    throw Error("input size " + std::to_string(input_size_) + " is too small for backbone '" + backbone_.architecture() +
                "': its smallest scale (" + std::to_string(smallest) + " px) leaves no feature map");
  }
}

void Extractor::set_standardization(const at::Tensor& mean, const at::Tensor& std) {
  if (!standardize_) throw Error("this model's configuration does not standardise its features");
  if (mean.dim() != 1 || std.dim() != 1 || mean.size(0) != mean_.size(0) || std.size(0) != mean_.size(0))
    throw Error("feature standardisation needs mean and std of [" + std::to_string(mean_.size(0)) + "] values");
  at::Tensor m = mean.detach().to(at::kCPU, at::kFloat), s = std.detach().to(at::kCPU, at::kFloat);
  if (!at::isfinite(m).all().item<bool>() || !at::isfinite(s).all().item<bool>() || !(s > 0).all().item<bool>())
    throw Error("feature standardisation: mean and std must be finite and every std positive");
  mean_ = m.to(mean_.device()).contiguous();
  std_ = s.to(std_.device()).contiguous();
}

void Extractor::set_whitening(const at::Tensor& centre, const at::Tensor& matrix) {
  if (!whiten_) throw Error("this model's configuration does not whiten its features");
  const int64_t d = whiten_centre_.size(0);
  if (centre.dim() != 1 || centre.size(0) != d || matrix.dim() != 2 || matrix.size(0) != d || matrix.size(1) != d)
    throw Error("feature whitening needs a centre of [" + std::to_string(d) + "] values and a [" + std::to_string(d) +
                "," + std::to_string(d) + "] matrix");
  at::Tensor c = centre.detach().to(at::kCPU, at::kFloat), m = matrix.detach().to(at::kCPU, at::kFloat);
  if (!at::isfinite(c).all().item<bool>() || !at::isfinite(m).all().item<bool>())
    throw Error("feature whitening: the centre and the matrix must be finite");
  whiten_centre_ = c.to(whiten_centre_.device()).contiguous();
  whiten_matrix_ = m.to(whiten_matrix_.device()).contiguous();
}

void Extractor::to(const at::Device& device, at::ScalarType dtype) {
  backbone_.to(device, dtype);
  local_.to(device);
  if (standardize_) {
    mean_ = mean_.to(device);
    std_ = std_.to(device);
  }
  if (whiten_) {
    whiten_centre_ = whiten_centre_.to(device);
    whiten_matrix_ = whiten_matrix_.to(device);
  }
}

at::Tensor Extractor::features(const at::Tensor& input, int64_t chunk, at::Tensor* local_map) const {
  return normalize(raw_features(input, chunk, local_map));
}

at::Tensor Extractor::normalize(const at::Tensor& raw) const {
  at::Tensor f = standardize_ ? (raw - mean_) / std_ : raw;
  return whiten_ ? at::matmul(f - whiten_centre_, whiten_matrix_) : f;
}

namespace {
void check_input(const at::Tensor& input, int size) {
  if (input.dim() != 4 || input.size(1) != 3 || input.size(2) != size || input.size(3) != size)
    throw Error("extractor input must be [N,3," + std::to_string(size) + "," + std::to_string(size) + "]");
}
}  // namespace

at::Tensor Extractor::raw_features(const at::Tensor& input, int64_t chunk, at::Tensor* local_map) const {
  check_input(input, input_size_);
  if (local_map && !local_.enabled()) throw Error("this model has no local scorer: it localizes with the gradient");
  if (chunk <= 0) chunk = input.is_cuda() ? 64 : std::max<int64_t>(1, 2 * 448 * 448 / (int64_t{input_size_} * input_size_));
  std::vector<at::Tensor> parts, maps;
  for (int64_t start = 0; start < input.size(0); start += chunk) {
    at::Tensor x = input.slice(0, start, std::min(start + chunk, input.size(0)));
    std::vector<at::Tensor> pooled, cell_scores(static_cast<size_t>(local_map ? local_.slots() : 0));
    for (size_t si = 0; si < scales_.size(); ++si) {
      const int step = input_size_ / scales_[si];  // legacy nearest with an exact factor reads pixel i*step
      at::Tensor xs = step == 1 ? x : x.slice(2, 0, input_size_, step).slice(3, 0, input_size_, step);
      const std::vector<at::Tensor> taps = backbone_.taps(xs, tap_layers_);
      for (size_t l = 0; l < layers_.size(); ++l) pooled.push_back(taps[l].mean({2, 3}).to(at::kFloat));
      if (!local_map) continue;
      for (int k = 0; k < local_.slots(); ++k) {
        if (local_.scale_index(k) != static_cast<int>(si)) continue;
        at::NoGradGuard no_grad;
        std::vector<at::Tensor> local_taps;
        for (size_t i : local_taps_) local_taps.push_back(taps[i].detach());
        cell_scores[static_cast<size_t>(k)] = local_.score_cells(k, local_.cells(k, local_taps));
      }
    }
    parts.push_back(at::cat(pooled, 1));
    if (local_map) {
      at::NoGradGuard no_grad;
      // At a quarter of the input side (112 px at 448): 4 px per map pixel is finer than the stride-8
      // cells, and the upsampling and smoothing cost a sixteenth of the full size.
      maps.push_back(local_.combine(cell_scores, std::max(1, input_size_ / 4)));
    }
  }
  if (local_map) *local_map = maps.size() == 1 ? maps[0] : at::cat(maps, 0);
  return parts.size() == 1 ? parts[0] : at::cat(parts, 0);
}

std::vector<at::Tensor> Extractor::local_cells(const at::Tensor& input, int64_t chunk, at::Tensor* raw) const {
  check_input(input, input_size_);
  if (!local_.enabled()) throw Error("this model has no local scorer");
  at::NoGradGuard no_grad;
  if (chunk <= 0) chunk = input.is_cuda() ? 64 : std::max<int64_t>(1, 2 * 448 * 448 / (int64_t{input_size_} * input_size_));
  std::vector<std::vector<at::Tensor>> per_slot(static_cast<size_t>(local_.slots()));
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < input.size(0); start += chunk) {
    at::Tensor x = input.slice(0, start, std::min(start + chunk, input.size(0)));
    std::vector<at::Tensor> pooled;
    for (size_t si = 0; si < scales_.size(); ++si) {
      int slot = -1;
      for (int k = 0; k < local_.slots(); ++k)
        if (local_.scale_index(k) == static_cast<int>(si)) slot = k;
      if (slot < 0 && !raw) continue;  // this scale only feeds the pooled features
      const int step = input_size_ / scales_[si];
      at::Tensor xs = step == 1 ? x : x.slice(2, 0, input_size_, step).slice(3, 0, input_size_, step);
      const std::vector<at::Tensor> taps = backbone_.taps(xs, tap_layers_);
      if (raw)
        for (size_t l = 0; l < layers_.size(); ++l) pooled.push_back(taps[l].mean({2, 3}).to(at::kFloat));
      if (slot < 0) continue;
      std::vector<at::Tensor> local_taps;
      for (size_t i : local_taps_) local_taps.push_back(taps[i]);
      per_slot[static_cast<size_t>(slot)].push_back(local_.cells(slot, local_taps));
    }
    if (raw) parts.push_back(at::cat(pooled, 1));
  }
  if (raw) *raw = parts.size() == 1 ? parts[0] : at::cat(parts, 0);
  std::vector<at::Tensor> out;
  for (auto& v : per_slot) out.push_back(v.size() == 1 ? v[0] : at::cat(v, 0));
  return out;
}

std::vector<double> Extractor::int8_ranges(const at::Tensor& input) const {
  check_input(input, input_size_);
  std::vector<double> out;
  for (int s : scales_) {
    const int step = input_size_ / s;  // the same pixels as raw_features reads
    const at::Tensor xs = step == 1 ? input : input.slice(2, 0, input_size_, step).slice(3, 0, input_size_, step);
    const std::vector<double> r = backbone_.int8_ranges(xs);
    if (out.empty()) out.assign(r.size(), 0.0);
    for (size_t i = 0; i < r.size(); ++i) out[i] = std::max(out[i], r[i]);
  }
  return out;
}

}  // namespace differnet
