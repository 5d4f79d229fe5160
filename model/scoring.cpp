#include "scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <torch/csrc/autograd/autograd.h>

#include "error.h"
#include "preprocess.h"
#include "runtime.h"

namespace differnet {

namespace {

// Indices of scipy's 'reflect' border (d c b a | a b c d | d c b a) for a window of `radius` around 0..n-1.
at::Tensor reflect_indices(int64_t n, int64_t radius) {
  std::vector<int64_t> idx;
  for (int64_t i = -radius; i < n + radius; ++i) {
    int64_t j = i;
    const int64_t period = 2 * n;
    j = ((j % period) + period) % period;
    if (j >= n) j = period - 1 - j;
    idx.push_back(j);
  }
  return at::tensor(idx, at::kLong);
}
}  // namespace

at::Tensor nll_loss(const FlowOutput& out) {
  const double dim = static_cast<double>(out.z.size(1));
  return (0.5 * out.z.pow(2).sum(1) - out.logdet).mean() / dim;
}

at::Tensor make_copies(const at::Tensor& levels, const std::vector<double>& angles_deg, const ModelConfig& config) {
  return normalize(rotate_nearest(levels.to(at::kFloat), angles_deg), config.mean, config.std);
}

ScoreResult score_image(const Model& model, const at::Tensor& levels, int transforms, bool localize, MapMethod method) {
  const std::vector<double> angles = test_time_angles(transforms);
  at::Tensor copies;
  {
    at::NoGradGuard no_grad;
    copies = make_copies(levels.to(model.device()), angles, model.config);
  }
  return score_copies(model, copies, angles, localize, false, method);
}

double worst_tile_score(const Model& model, const std::vector<at::Tensor>& tiles, int transforms) {
  double worst = -std::numeric_limits<double>::infinity();
  for (const at::Tensor& tile : tiles) worst = std::max(worst, score_image(model, tile, transforms, false).score);
  return worst;
}

ScoreParts score_parts(const Model& model, const at::Tensor& features, int64_t copies_per_image) {
  ScoreParts parts;
  const ImageScoreConfig& c = model.config.image_score;
  if (c.flow_trained && c.method != "gaussian") {
    const at::Tensor z = model.flow.forward(features).z;
    parts.flow = z.pow(2).view({-1, copies_per_image * z.size(1)}).mean(1);
  }
  if (c.gaussian && model.gaussian.fitted())
    parts.gaussian = model.gaussian.distances(features).to(features.device()).view({-1, copies_per_image}).mean(1);
  return parts;
}

at::Tensor combine_score_parts(const Model& model, const ScoreParts& parts, double flow_scale, double gaussian_scale) {
  const std::string& method = model.config.image_score.method;
  if (method == "flow") return parts.flow;
  if (!parts.gaussian.defined()) throw Error("the model's image score needs its pooled Gaussian, which is not fitted");
  if (method == "gaussian") return parts.gaussian;
  if (!(flow_scale > 0 && gaussian_scale > 0))
    throw Error("the combined image score needs the calibration's scales: calibrate the model first");
  return parts.flow / flow_scale + parts.gaussian / gaussian_scale;
}

at::Tensor scores_from_features(const Model& model, const at::Tensor& features, int64_t copies_per_image) {
  return combine_score_parts(model, score_parts(model, features, copies_per_image), model.calibration.flow_scale,
                             model.calibration.gaussian_scale);
}

at::Tensor gaussian_smooth(const at::Tensor& maps, double sigma, double truncate) {
  const int64_t radius = static_cast<int64_t>(truncate * sigma + 0.5);
  std::vector<double> w(static_cast<size_t>(2 * radius + 1));
  double sum = 0;
  for (int64_t i = -radius; i <= radius; ++i) sum += (w[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma)));
  for (double& v : w) v /= sum;
  at::Tensor kernel = at::tensor(w, at::kDouble).to(maps.scalar_type()).to(maps.device());
  const int64_t n = maps.size(0), c = maps.size(1), h = maps.size(2), wd = maps.size(3);
  at::Tensor x = maps.reshape({n * c, 1, h, wd});
  x = x.index_select(3, reflect_indices(wd, radius).to(maps.device()));
  x = at::conv2d(x, kernel.view({1, 1, 1, -1}));
  x = x.index_select(2, reflect_indices(h, radius).to(maps.device()));
  x = at::conv2d(x, kernel.view({1, 1, -1, 1}));
  return x.view({n, c, h, wd});
}

ScoreResult score_copies(const Model& model, const at::Tensor& copies, const std::vector<double>& angles_deg,
                         bool localize, bool synchronize_stages, MapMethod method) {
  return score_copies_batch(model, copies, angles_deg, 1, localize, synchronize_stages, method)[0];
}

std::vector<ScoreResult> score_copies_batch(const Model& model, const at::Tensor& copies,
                                            const std::vector<double>& angles_deg, int64_t images, bool localize,
                                            bool synchronize_stages, MapMethod method) {
  const int64_t per_image = static_cast<int64_t>(angles_deg.size());
  if (images < 1 || copies.size(0) != images * per_image)
    throw std::invalid_argument("score_copies_batch: " + std::to_string(copies.size(0)) + " copies for " +
                                std::to_string(images) + " images of " + std::to_string(per_image));
  std::vector<ScoreResult> results(static_cast<size_t>(images));
  ScoreResult times;
  const std::string device = copies.device().str();
  // With the device's queue drained before each clock read, the stage times are real durations.
  auto ms_since = [&](std::chrono::steady_clock::time_point t) {
    if (synchronize_stages) synchronize(device);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  auto with_times = [&]() {
    for (ScoreResult& r : results) {
      r.backbone_ms = times.backbone_ms;
      r.flow_ms = times.flow_ms;
      r.localization_ms = times.localization_ms;
    }
    return results;
  };
  auto t0 = std::chrono::steady_clock::now();
  const bool local = localize && method == MapMethod::Local;
  if (!localize || local) {
    at::NoGradGuard no_grad;
    at::Tensor local_maps;  // [images*per_image,S,S]
    at::Tensor features = model.extractor.features(copies, 0, local ? &local_maps : nullptr);  // T=64 as one batch on a GPU
    times.backbone_ms = ms_since(t0);
    if (local) {
      // The backbone pass made the cell maps; what remains (turning them back, the maxima) counts as localization.
      auto tl = std::chrono::steady_clock::now();
      at::Tensor maps = local_maps;
      if (per_image > 1) {
        std::vector<double> back_angles;
        for (int64_t i = 0; i < images; ++i)
          for (double a : angles_deg) back_angles.push_back(-a);
        maps = rotate_bilinear(maps.unsqueeze(1), back_angles).squeeze(1);
      }
      maps = maps.view({images, per_image, maps.size(-2), maps.size(-1)}).mean(1);
      const at::Tensor peaks = maps.amax({1, 2}).to(at::kCPU, at::kDouble).contiguous();
      for (int64_t i = 0; i < images; ++i) {
        results[static_cast<size_t>(i)].map = maps[i];
        results[static_cast<size_t>(i)].local_score = peaks.data_ptr<double>()[i];
      }
      times.localization_ms = ms_since(tl);
    }
    auto t1 = std::chrono::steady_clock::now();
    const at::Tensor per = scores_from_features(model, features, per_image).to(at::kCPU, at::kDouble).contiguous();
    for (int64_t i = 0; i < images; ++i) results[static_cast<size_t>(i)].score = per.data_ptr<double>()[i];
    times.flow_ms = ms_since(t1);
    return with_times();
  }
  // The loss is a batch mean and each copy's gradient depends on that copy alone, so the copies go
  // through in chunks (bounded memory), each chunk's loss weighted so that every copy's gradient is
  // the one it has in its own image's batch of `per_image` copies.
  const int64_t kChunk = copies.is_cuda() ? 64 : 8;
  const int64_t n = copies.size(0);
  std::vector<at::Tensor> grads, z2s;
  for (int64_t start = 0; start < n; start += kChunk) {
    at::AutoGradMode grad_on(true);
    at::Tensor input = copies.slice(0, start, std::min(n, start + kChunk)).detach().clone().set_requires_grad(true);
    auto ta = std::chrono::steady_clock::now();
    at::Tensor features = model.extractor.features(input);
    times.backbone_ms += ms_since(ta);
    auto tb = std::chrono::steady_clock::now();
    // The map's objective: the flow's loss (the method's), or, for a model scored by the Gaussian
    // alone (its flow untrained), the Gaussian's distance.
    const bool gaussian_only = model.config.image_score.method == "gaussian";
    at::Tensor objective;
    if (gaussian_only) {
      const at::Tensor d = model.gaussian.distances(features);
      z2s.push_back(d.detach().to(at::kDouble));
      objective = d.mean();
    } else {
      FlowOutput out = model.flow.forward(features);
      if (model.flow.inference_precision() == FlowPrecision::INT8 || model.config.image_score.method != "flow") {
        // the score as without localization: from the int8 flow, or the model's combined score
        at::NoGradGuard no_grad;
        z2s.push_back(scores_from_features(model, features.detach(), 1).to(at::kDouble));
      } else {
        z2s.push_back(out.z.detach().pow(2).mean(1).to(at::kDouble));
      }
      objective = nll_loss(out);
    }
    times.flow_ms += ms_since(tb);
    auto tc = std::chrono::steady_clock::now();
    const double share = static_cast<double>(input.size(0)) / static_cast<double>(per_image);
    grads.push_back(torch::autograd::grad({objective * share}, {input})[0]);
    times.localization_ms += ms_since(tc);
  }
  // Each image's score: the mean of its copies' scores (z2s holds one per copy).
  const at::Tensor image_scores = (z2s.size() == 1 ? z2s[0] : at::cat(z2s, 0)).view({images, per_image}).mean(1).to(at::kCPU).contiguous();
  auto t2 = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  at::Tensor grad = grads.size() == 1 ? grads[0] : at::cat(grads, 0);
  std::vector<double> back_angles;
  for (int64_t i = 0; i < images; ++i)
    for (double a : angles_deg) back_angles.push_back(-a);
  at::Tensor back = gaussian_smooth(rotate_bilinear(grad, back_angles));
  const at::Tensor maps = back.abs().view({images, per_image * back.size(1), back.size(2), back.size(3)}).mean(1).pow(2);
  times.localization_ms += ms_since(t2);
  for (int64_t i = 0; i < images; ++i) {
    ScoreResult& r = results[static_cast<size_t>(i)];
    r.score = image_scores.data_ptr<double>()[i];
    r.map = maps[i];
  }
  return with_times();
}

}  // namespace differnet
