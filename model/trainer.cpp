#include "trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <numeric>
#include <random>

#include "error.h"
#include "gaussian_baseline.h"
#include "scoring.h"

namespace differnet {

Adam::Adam(std::vector<at::Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : params_(std::move(params)), lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {
  for (const auto& p : params_) {
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void Adam::step() {
  at::NoGradGuard no_grad;
  ++steps_;
  const double bias1 = 1.0 - std::pow(beta1_, static_cast<double>(steps_));
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(beta2_, static_cast<double>(steps_)));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    at::Tensor grad = p.grad();
    if (weight_decay_ != 0) grad = grad.add(p, weight_decay_);  // coupled L2, not AdamW
    m_[i].mul_(beta1_).add_(grad, 1.0 - beta1_);
    v_[i].mul_(beta2_).addcmul_(grad, grad, 1.0 - beta2_);
    at::Tensor denom = (v_[i].sqrt() / bias2_sqrt).add_(eps_);
    p.addcdiv_(m_[i], denom, -lr_ / bias1);
    p.mutable_grad() = at::Tensor();
  }
}

namespace {

// The loss is a per-dimension negative log-likelihood: a well-trained flow sits near -1..2, an
// untrained one at a few units. Anything beyond this has left the method's numeric range for good.
constexpr double kDivergedLoss = 1e6;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<double> random_angles(std::mt19937_64& rng, int n, double range_deg) {
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  if (range_deg <= 0) return out;
  std::uniform_real_distribution<double> angle(-range_deg, range_deg);  // RandomRotation(180)
  for (double& a : out) a = angle(rng);
  return out;
}

// Per-dimension mean and std of [.., D] features; a dimension that never varies (a dead ReLU
// channel) gets a std floor so that it cannot blow up the standardised vector.
std::pair<at::Tensor, at::Tensor> feature_statistics(const at::Tensor& features) {
  at::Tensor f = features.reshape({-1, features.size(-1)}).to(at::kDouble);
  at::Tensor mean = f.mean(0);
  at::Tensor std = f.size(0) > 1 ? f.std(0) : at::ones_like(mean);
  const double floor = std::max(1e-6, 1e-3 * std.mean().item<double>());
  return {mean.to(at::kFloat), std.clamp_min(floor).to(at::kFloat)};
}

// Mean loss of the held-out features, without gradients.
double heldout_loss(const Model& model, const at::Tensor& features) {
  at::NoGradGuard no_grad;
  return nll_loss(model.flow.forward(features)).item<double>();
}

void check_images(const Model& model, const std::vector<at::Tensor>& images) {
  if (images.empty()) throw Error("training needs at least one image");
  const int s = model.config.input_size;
  for (const auto& im : images)
    if (im.dim() != 4 || im.size(0) != 1 || im.size(1) != 3 || im.size(2) != s || im.size(3) != s)
      throw Error("training images must be resized to [1,3," + std::to_string(s) + "," + std::to_string(s) + "]");
}

}  // namespace

static TrainReport train_flow_checked(Model& model, const std::vector<at::Tensor>& images, const TrainOptions& o,
                               const std::function<void(const TrainProgress&)>& progress,
                               const std::atomic<bool>* stop);

// The standardisation (and with config.whiten the whitening) fitted to raw features [..., D].
static void fit_normalization(Model& model, const at::Tensor& stats_source, TrainReport* report) {
  auto [mean, std] = feature_statistics(stats_source);
  model.extractor.set_standardization(mean, std);
  if (model.config.whiten) {  // fitted to the same features, standardised
    at::Tensor standardized = (stats_source - mean.to(stats_source.device())) / std.to(stats_source.device());
    Whitening w = ledoit_wolf_whitening(standardized.reshape({-1, standardized.size(-1)}));
    model.extractor.set_whitening(w.mean, w.matrix);
    if (report) {
      report->whitening_shrinkage = w.shrinkage;
      report->whitening_log_det_per_dim = w.log_det / static_cast<double>(w.matrix.size(0));
    }
  }
}

at::Tensor rotation_pool_features(const Model& model, const std::vector<at::Tensor>& images, int rotations,
                                  uint64_t seed, const std::function<void(int)>& progress,
                                  const std::atomic<bool>* stop, double rotation_deg) {
  check_images(model, images);
  at::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  const at::Device device = model.device();
  std::vector<at::Tensor> per_image;
  for (size_t i = 0; i < images.size(); ++i) {
    if (stop && stop->load()) return at::Tensor();
    at::Tensor copies = make_copies(images[i].to(device), random_angles(rng, rotations, rotation_deg), model.config);
    per_image.push_back(model.extractor.raw_features(copies));
    if (progress) progress(static_cast<int>(i + 1));
  }
  return at::stack(per_image);
}

TrainReport train_flow(Model& model, const std::vector<at::Tensor>& images, const TrainOptions& o,
                       const std::function<void(const TrainProgress&)>& progress, const std::atomic<bool>* stop) {
  check_images(model, images);
  if (o.epochs < 1 || o.batch_size < 1 || o.rotations_per_image < 1 || o.feature_cache < 0)
    throw Error("training options: epochs, batch size and rotations must be at least 1, the cache at least 0");
  if (!(o.rotation_deg >= 0 && o.rotation_deg <= 180)) throw Error("training rotation must be in 0..180 degrees");
  if (!(o.feature_noise >= 0 && o.feature_noise <= 10)) throw Error("feature noise must be in 0..10");
  if (o.feature_cache > 0 && o.feature_cache < o.rotations_per_image && o.rotation_deg > 0)
    throw Error("the feature cache needs at least as many rotations per image as each step draws (" +
                std::to_string(o.rotations_per_image) + ")");
  TrainOptions opt = o;
  if (opt.rotation_deg == 0) {  // every copy would be the same image: one copy, its features cached once
    opt.rotations_per_image = 1;
    opt.feature_cache = 1;
  }
  return train_flow_checked(model, images, opt, progress, stop);
}

static TrainReport train_flow_checked(Model& model, const std::vector<at::Tensor>& images, const TrainOptions& o,
                               const std::function<void(const TrainProgress&)>& progress,
                               const std::atomic<bool>* stop) {
  const auto t0 = std::chrono::steady_clock::now();
  model.config.train_rotation_deg = o.rotation_deg;
  std::mt19937_64 rng(o.seed);
  const at::Device device = model.device();
  const int n = static_cast<int>(images.size());
  const int steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  // Stopped while features were being computed: no epoch finished.
  auto stopped_before_training = [&] {
    TrainReport report;
    report.stopped = true;
    report.seconds = seconds_since(t0);
    return report;
  };

  at::Tensor pool;  // [n, P, D]
  if (o.feature_cache > 0 && o.rotation_deg == 0 && o.unrotated_features.defined()) {
    if (o.unrotated_features.dim() != 2 || o.unrotated_features.size(0) != n ||
        o.unrotated_features.size(1) != model.config.feature_dim())
      throw Error("training options: the given unrotated features are not [images, D]");
    rng();  // the seed the pool would have taken: the rest of the run draws the same numbers
    pool = o.unrotated_features.to(device).unsqueeze(1);
  } else if (o.feature_cache > 0) {
    pool = rotation_pool_features(model, images, o.feature_cache, rng(), [&](int done) {
      if (!progress) return;
      TrainProgress p;
      p.caching = true, p.step = done, p.steps_per_epoch = n, p.epochs = o.epochs;
      p.elapsed_s = seconds_since(t0);
      p.remaining_s = p.elapsed_s / done * (n - done);
      progress(p);
    }, stop, o.rotation_deg);
    if (!pool.defined()) return stopped_before_training();  // the flow is untouched
  }
  TrainReport report;
  if (model.config.standardize) {  // the statistics of the features the flow will see
    at::Tensor stats_source = pool;
    if (!pool.defined()) {
      stats_source = rotation_pool_features(model, images, o.rotations_per_image, rng(), {}, stop, o.rotation_deg);
      if (!stats_source.defined()) return stopped_before_training();
    }
    fit_normalization(model, stats_source, &report);
    if (pool.defined()) pool = model.extractor.normalize(pool);
  }
  at::Tensor heldout;  // [copies, D], standardised like the training features
  if (!o.heldout_images.empty()) {
    check_images(model, o.heldout_images);
    at::NoGradGuard no_grad;
    const std::vector<double> angles = o.rotation_deg > 0 ? std::vector<double>{0, 90, 180, 270} : std::vector<double>{0};
    std::vector<at::Tensor> parts;
    for (const auto& im : o.heldout_images) parts.push_back(model.extractor.features(make_copies(im.to(device), angles, model.config)));
    heldout = at::cat(parts, 0);
  }
  double last_heldout = std::nan("");
  double first_loss = std::nan("");
  at::Generator noise_gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 17);

  model.flow.set_requires_grad(true);
  Adam adam(model.flow.parameters(), o.lr, o.beta1, o.beta2, o.eps, o.weight_decay);
  std::vector<at::Tensor> last_good;  // parameters after the last finished epoch
  auto snapshot = [&] {
    last_good.clear();
    for (const auto& p : model.flow.parameters()) last_good.push_back(p.detach().clone());
  };
  snapshot();
  const auto train_start = std::chrono::steady_clock::now();
  std::vector<int> order(static_cast<size_t>(n));
  for (int epoch = 1; epoch <= o.epochs && !report.stopped; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    for (int step = 0; step < steps_per_epoch; ++step) {
      if (stop && stop->load()) {
        report.stopped = true;
        break;
      }
      const int begin = step * o.batch_size, end = std::min(n, begin + o.batch_size);
      at::Tensor features;
      {
        at::NoGradGuard no_grad;  // the backbone is frozen: its gradients are never needed
        std::vector<at::Tensor> batch;
        for (int b = begin; b < end; ++b) {
          const int i = order[b];
          if (pool.defined()) {
            std::vector<int64_t> pick(static_cast<size_t>(o.feature_cache));
            std::iota(pick.begin(), pick.end(), 0);
            std::shuffle(pick.begin(), pick.end(), rng);
            pick.resize(static_cast<size_t>(o.rotations_per_image));
            batch.push_back(pool[i].index_select(0, at::tensor(pick, at::kLong).to(device)));
          } else {
            batch.push_back(make_copies(images[i].to(device), random_angles(rng, o.rotations_per_image, o.rotation_deg),
                                        model.config));
          }
        }
        features = at::cat(batch, 0);
        if (!pool.defined()) features = model.extractor.features(features);
        if (o.feature_noise > 0) features = features + at::randn(features.sizes(), noise_gen).to(device) * o.feature_noise;
      }
      at::Tensor loss = nll_loss(model.flow.forward(features));
      const double loss_value = loss.item<double>();
      if (std::isnan(first_loss)) first_loss = loss_value;
      // Diverged: not finite, or far above the method's range and far above where training began
      // (a flow can start high on unscaled features; that alone is not divergence).
      if (!std::isfinite(loss_value) || (loss_value > kDivergedLoss && loss_value > 100 * std::abs(first_loss))) {
        char lr[32];
        std::snprintf(lr, sizeof lr, "%g", o.lr);
        throw Error("training diverged in epoch " + std::to_string(epoch) + ", step " + std::to_string(step + 1) +
                    " (loss " + std::to_string(loss_value) + ", first step " + std::to_string(first_loss) +
                    "): lower the learning rate (now " + lr + ")");
      }
      loss.backward();
      adam.step();
      loss_sum += loss_value;
      if (progress) {
        TrainProgress p;
        p.epoch = epoch, p.epochs = o.epochs, p.step = step + 1, p.steps_per_epoch = steps_per_epoch;
        p.loss = loss_sum / (step + 1);
        p.heldout_loss = last_heldout;
        p.elapsed_s = seconds_since(t0);
        const double done = (epoch - 1) * steps_per_epoch + step + 1.0;
        p.remaining_s = seconds_since(train_start) / done * (static_cast<double>(o.epochs) * steps_per_epoch - done);
        progress(p);
      }
    }
    if (report.stopped) break;
    report.epoch_losses.push_back(loss_sum / steps_per_epoch);
    report.epochs_done = epoch;
    if (heldout.defined() && (epoch == o.epochs || (o.heldout_every > 0 && epoch % o.heldout_every == 0))) {
      last_heldout = heldout_loss(model, heldout);
      report.heldout_losses.emplace_back(epoch, last_heldout);
    }
    snapshot();
  }
  if (report.stopped) {  // an unfinished epoch is dropped: keep the last good weights
    at::NoGradGuard no_grad;
    auto params = model.flow.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(last_good[i]);
  }
  model.flow.set_requires_grad(false);
  report.seconds = seconds_since(t0);
  return report;
}

double fit_pooled_gaussian(Model& model, const std::vector<at::Tensor>& images, const at::Tensor& raw_features,
                           bool set_normalization, const std::atomic<bool>* stop) {
  check_images(model, images);
  if (images.size() < 2) throw Error("the pooled Gaussian needs at least 2 images, got " + std::to_string(images.size()));
  at::NoGradGuard no_grad;
  at::Tensor raw = raw_features;
  if (raw.defined()) {
    if (raw.dim() != 2 || raw.size(0) != static_cast<int64_t>(images.size()) || raw.size(1) != model.config.feature_dim())
      throw Error("the pooled Gaussian: the given raw features are not [images, D]");
  } else {
    raw = rotation_pool_features(model, images, 1, 0, {}, stop, 0.0);
    if (!raw.defined()) return -1.0;  // stopped
    raw = raw.squeeze(1);
  }
  raw = raw.to(model.device());
  if (set_normalization && model.config.standardize) fit_normalization(model, raw, nullptr);
  model.gaussian.fit(model.extractor.normalize(raw));
  model.config.image_score.gaussian = true;
  return model.gaussian.shrinkage();
}

}  // namespace differnet
