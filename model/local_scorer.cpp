#include "local_scorer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "backbone.h"
#include "error.h"
#include "gaussian_baseline.h"
#include "scoring.h"

namespace differnet {

namespace {
std::string slot_name(int slot, const char* what) { return "local.scale" + std::to_string(slot) + "." + what; }
}  // namespace

LocalScorer::LocalScorer(const ModelConfig& config)
    : enabled_(config.local.enabled()),
      layers_(config.local.layers),
      layer_channels_(config.local.layer_channels),
      scale_indices_(config.local.scales),
      channels_(config.local.channels()),
      dim_(config.local.dim),
      neighbourhood_(config.local.neighbourhood),
      shallowest_grid_(config.local.grid == "shallowest"),
      sigma_(config.local.sigma),
      input_size_(config.input_size) {
  if (!enabled_) return;
  flow_ = LocalFlow(config.local);
  // One projection per slot, drawn in slot order from one seeded generator: N(0, 1/dim), so that a
  // projected cell keeps the scale of its channels.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config.local.projection_seed));
  for (int k = 0; k < slots(); ++k) {
    at::Tensor p = at::randn({channels_, dim_}, gen, at::TensorOptions(at::kFloat)) / std::sqrt(static_cast<double>(dim_));
    projection_.push_back(p);
    matrix_.push_back(p);
    offset_.push_back(at::zeros({dim_}, at::kFloat));
    slot_fitted_.push_back(false);
    shrinkage_.push_back(-1.0);
    whitening_.emplace_back();
    whitened_mean_.emplace_back();
  }
  update_conv_weights();
}

at::Tensor LocalScorer::cells(int slot, const std::vector<at::Tensor>& taps) const {
  if (!enabled_) throw Error("this model has no local scorer");
  if (taps.size() != layers_.size())
    throw Error("the local scorer reads " + std::to_string(layers_.size()) + " layer(s), got " + std::to_string(taps.size()));
  int64_t channels = 0;
  for (const at::Tensor& t : taps) channels += t.size(1);
  if (channels != channels_)
    throw Error("the local scorer reads " + std::to_string(channels_) + " channels, got " + std::to_string(channels));
  if (shallowest_grid_) {
    // PatchCore's way: each layer averaged over the neighbourhood on its own grid, projected by its
    // rows of the matrix, and brought to the shallowest (finest) grid bilinearly. Averaging,
    // projection and resampling are linear, so this is the concatenated cell's projection at a
    // fraction of the cost of resampling every channel.
    const int64_t h = taps.front().size(2), w = taps.front().size(3);
    at::Tensor sum;
    size_t layer = 0;
    for (const at::Tensor& t : taps) {
      at::Tensor p;
      if (t.scalar_type() == at::kBFloat16) {
        // A bf16 backbone's maps (AMX): projected in bf16 (oneDNN's bf16 convolution, fp32
        // accumulation; weights and result rounded to 8 significant bits), then averaged in fp32 on
        // the projection's fewer channels. A 1 x 1 convolution without bias and the averaging
        // (zeros beyond the border) commute, so these are the same cells up to that rounding, at a
        // fraction of an fp32 projection's cost.
        p = at::conv2d(t, conv_weights_bf16_.at(static_cast<size_t>(slot)).at(layer++)).to(at::kFloat);
        if (neighbourhood_ > 1)
          p = at::avg_pool2d(p, {neighbourhood_, neighbourhood_}, {1, 1}, {neighbourhood_ / 2, neighbourhood_ / 2},
                             /*ceil_mode=*/false, /*count_include_pad=*/true);
      } else {
        at::Tensor m = t.to(at::kFloat);
        if (neighbourhood_ > 1)
          m = at::avg_pool2d(m, {neighbourhood_, neighbourhood_}, {1, 1}, {neighbourhood_ / 2, neighbourhood_ / 2},
                             /*ceil_mode=*/false, /*count_include_pad=*/true);
        p = at::conv2d(m, conv_weights_.at(static_cast<size_t>(slot)).at(layer++));
      }
      if (p.size(2) != h || p.size(3) != w)
        p = p.size(2) < h ? at::upsample_bilinear2d(p, {h, w}, /*align_corners=*/false) : at::adaptive_avg_pool2d(p, {h, w});
      sum = sum.defined() ? sum + p : p;
    }
    return sum.permute({0, 2, 3, 1}) - offset_.at(static_cast<size_t>(slot));
  }
  const at::Tensor& deepest = taps.back();
  const int64_t h = deepest.size(2), w = deepest.size(3);
  std::vector<at::Tensor> parts;
  for (const at::Tensor& t : taps) {
    at::Tensor m = t.to(at::kFloat);
    if (m.size(2) != h || m.size(3) != w) m = at::adaptive_avg_pool2d(m, {h, w});
    parts.push_back(m);
  }
  at::Tensor x = parts.size() == 1 ? parts[0] : at::cat(parts, 1);
  if (neighbourhood_ > 1)
    x = at::avg_pool2d(x, {neighbourhood_, neighbourhood_}, {1, 1}, {neighbourhood_ / 2, neighbourhood_ / 2},
                       /*ceil_mode=*/false, /*count_include_pad=*/true);
  // [N,C,h,w] -> [N,dim,h,w] -> [N,h,w,dim]
  return at::conv2d(x, conv_weights_.at(static_cast<size_t>(slot)).back()).permute({0, 2, 3, 1}) -
         offset_.at(static_cast<size_t>(slot));
}

void LocalScorer::update_conv_weights() {
  // The projection as 1 x 1 convolutions: oneDNN runs them in the channels-last layout the backbone
  // leaves its maps in, several times as fast as a matrix product through this LibTorch's generic
  // BLAS (an [3025,256] x [256,256] product on 2 cores: 6.6 ms as a matmul, 1.3 ms as a convolution).
  // Per slot: one weight per layer (its rows of the matrix) for the shallowest grid, then the whole
  // matrix (the deepest grid's concatenated cells).
  conv_weights_.clear();
  conv_weights_bf16_.clear();
  auto as_conv = [](const at::Tensor& rows) {
    at::Tensor w = rows.t().contiguous().view({rows.size(1), rows.size(0), 1, 1});
    return Backbone::channels_last() ? w.contiguous(at::MemoryFormat::ChannelsLast) : w;
  };
  for (const at::Tensor& a : matrix_) {
    std::vector<at::Tensor> per_layer;
    int64_t row = 0;
    for (int c : layer_channels_) {
      per_layer.push_back(as_conv(a.slice(0, row, row + c)));
      row += c;
    }
    per_layer.push_back(as_conv(a));
    std::vector<at::Tensor> per_layer_bf16;
    for (const at::Tensor& w : per_layer) per_layer_bf16.push_back(w.to(at::kBFloat16));
    conv_weights_.push_back(per_layer);
    conv_weights_bf16_.push_back(per_layer_bf16);
  }
}

at::Tensor LocalScorer::cell_scores(const at::Tensor& cells) { return cells.pow(2).mean(-1); }

at::Tensor LocalScorer::score_cells(int slot, const at::Tensor& cells) const {
  return flow_.enabled() ? flow_.cell_scores(slot, cells) : cell_scores(cells);
}

at::Tensor LocalScorer::whiten_projected(int slot, const at::Tensor& projected_cells) const {
  const size_t k = static_cast<size_t>(slot);
  if (k >= whitening_.size() || !whitening_[k].defined())
    throw Error("the local scorer's whitening of slot " + std::to_string(slot) + " is only known right after fitting it");
  const at::Tensor w = whitening_[k].to(projected_cells.device());
  return at::matmul(projected_cells.to(at::kFloat), w) - whitened_mean_[k].to(projected_cells.device());
}

at::Tensor LocalScorer::combine(const std::vector<at::Tensor>& cell_scores, int size) const {
  at::Tensor sum;
  for (const at::Tensor& c : cell_scores) {
    at::Tensor up = at::upsample_bilinear2d(c.unsqueeze(1), {size, size}, /*align_corners=*/false);
    sum = sum.defined() ? sum + up : up;
  }
  sum = sum / static_cast<double>(cell_scores.size());
  // sigma is in input pixels; the map may be asked at another size
  const double sigma = sigma_ * size / input_size_;
  if (sigma >= 0.25) sum = gaussian_smooth(sum, sigma);
  return sum.squeeze(1);
}

void LocalScorer::fit(int slot, const at::Tensor& projected_cells) {
  if (!enabled_) throw Error("this model has no local scorer");
  if (projected_cells.dim() != 2 || projected_cells.size(1) != dim_ || projected_cells.size(0) < 2)
    throw Error("the local scorer is fitted from [M," + std::to_string(dim_) + "] projected cells, M >= 2");
  Whitening wh = ledoit_wolf_whitening(projected_cells);
  const size_t k = static_cast<size_t>(slot);
  const at::Device device = matrix_.at(k).device();
  const at::Tensor p = projection_.at(k).to(at::kCPU);
  matrix_[k] = p.mm(wh.matrix).to(device).contiguous();
  offset_[k] = wh.mean.unsqueeze(0).mm(wh.matrix).squeeze(0).to(device).contiguous();
  shrinkage_[k] = wh.shrinkage;
  whitening_[k] = wh.matrix.to(at::kFloat).contiguous();
  whitened_mean_[k] = wh.mean.unsqueeze(0).mm(wh.matrix).squeeze(0).to(at::kFloat).contiguous();
  slot_fitted_[k] = true;
  fitted_ = true;
  for (bool f : slot_fitted_) fitted_ = fitted_ && f;
  update_conv_weights();
}

TensorMap LocalScorer::named_tensors() const {
  TensorMap out;
  for (int k = 0; k < slots(); ++k) {
    out[slot_name(k, "matrix")] = matrix_[static_cast<size_t>(k)];
    out[slot_name(k, "offset")] = offset_[static_cast<size_t>(k)];
  }
  for (const auto& [name, t] : flow_.named_tensors()) out[name] = t;
  return out;
}

void LocalScorer::load(const TensorMap& tensors) {
  if (!enabled_) {
    if (!tensors.empty()) throw Error("unexpected tensor '" + tensors.begin()->first + "' (the configuration has no local scorer)");
    return;
  }
  TensorMap own, flow;
  for (const auto& [name, t] : tensors) (name.rfind("local.flow.", 0) == 0 ? flow : own)[name] = t;
  std::map<std::string, std::vector<int64_t>> expected;
  for (int k = 0; k < slots(); ++k) {
    expected[slot_name(k, "matrix")] = {channels_, dim_};
    expected[slot_name(k, "offset")] = {dim_};
  }
  check_shapes(own, expected, "the local scorer");
  if (flow_.enabled()) flow_.load(flow);
  else if (!flow.empty()) throw Error("unexpected tensor '" + flow.begin()->first + "' (the configuration has no local flow)");
  for (int k = 0; k < slots(); ++k) {
    matrix_[static_cast<size_t>(k)] = tensors.at(slot_name(k, "matrix")).to(at::kFloat).contiguous();
    offset_[static_cast<size_t>(k)] = tensors.at(slot_name(k, "offset")).to(at::kFloat).contiguous();
    slot_fitted_[static_cast<size_t>(k)] = true;
  }
  fitted_ = true;
  update_conv_weights();
}

void LocalScorer::to(const at::Device& device) {
  for (auto& m : matrix_) m = m.to(device);
  for (auto& o : offset_) o = o.to(device);
  flow_.to(device);
  update_conv_weights();
}

}  // namespace differnet
