#include "trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "error.h"
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

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<double> random_angles(std::mt19937_64& rng, int n) {
  std::uniform_real_distribution<double> angle(-180.0, 180.0);  // RandomRotation(180)
  std::vector<double> out(static_cast<size_t>(n));
  for (double& a : out) a = angle(rng);
  return out;
}

void check_images(const Model& model, const std::vector<at::Tensor>& images) {
  if (images.empty()) throw Error("training needs at least one image");
  const int s = model.config.input_size;
  for (const auto& im : images)
    if (im.dim() != 4 || im.size(0) != 1 || im.size(1) != 3 || im.size(2) != s || im.size(3) != s)
      throw Error("training images must be resized to [1,3," + std::to_string(s) + "," + std::to_string(s) + "]");
}

}  // namespace

at::Tensor rotation_pool_features(const Model& model, const std::vector<at::Tensor>& images, int rotations,
                                  uint64_t seed, const std::function<void(int)>& progress,
                                  const std::atomic<bool>* stop) {
  check_images(model, images);
  at::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  const at::Device device = model.device();
  std::vector<at::Tensor> per_image;
  for (size_t i = 0; i < images.size(); ++i) {
    if (stop && stop->load()) return at::Tensor();
    at::Tensor copies = make_copies(images[i].to(device), random_angles(rng, rotations), model.config);
    per_image.push_back(model.extractor.features(copies));
    if (progress) progress(static_cast<int>(i + 1));
  }
  return at::stack(per_image);
}

TrainReport train_flow(Model& model, const std::vector<at::Tensor>& images, const TrainOptions& o,
                       const std::function<void(const TrainProgress&)>& progress, const std::atomic<bool>* stop) {
  check_images(model, images);
  if (o.epochs < 1 || o.batch_size < 1 || o.rotations_per_image < 1 || o.feature_cache < 0)
    throw Error("training options: epochs, batch size and rotations must be at least 1, the cache at least 0");
  if (o.feature_cache > 0 && o.feature_cache < o.rotations_per_image)
    throw Error("the feature cache needs at least as many rotations per image as each step draws (" +
                std::to_string(o.rotations_per_image) + ")");
  const auto t0 = std::chrono::steady_clock::now();
  std::mt19937_64 rng(o.seed);
  const at::Device device = model.device();
  const int n = static_cast<int>(images.size());
  const int steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;

  at::Tensor pool;  // [n, P, D]
  if (o.feature_cache > 0) {
    pool = rotation_pool_features(model, images, o.feature_cache, rng(), [&](int done) {
      if (!progress) return;
      TrainProgress p;
      p.caching = true, p.step = done, p.steps_per_epoch = n, p.epochs = o.epochs;
      p.elapsed_s = seconds_since(t0);
      p.remaining_s = p.elapsed_s / done * (n - done);
      progress(p);
    }, stop);
    if (!pool.defined()) {  // stopped while caching: no epoch finished, the flow is untouched
      TrainReport report;
      report.stopped = true;
      report.seconds = seconds_since(t0);
      return report;
    }
  }

  model.flow.set_requires_grad(true);
  Adam adam(model.flow.parameters(), o.lr, o.beta1, o.beta2, o.eps, o.weight_decay);
  TrainReport report;
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
            batch.push_back(make_copies(images[i].to(device), random_angles(rng, o.rotations_per_image), model.config));
          }
        }
        features = at::cat(batch, 0);
        if (!pool.defined()) features = model.extractor.features(features);
      }
      at::Tensor loss = nll_loss(model.flow.forward(features));
      loss.backward();
      adam.step();
      loss_sum += loss.item<double>();
      if (progress) {
        TrainProgress p;
        p.epoch = epoch, p.epochs = o.epochs, p.step = step + 1, p.steps_per_epoch = steps_per_epoch;
        p.loss = loss_sum / (step + 1);
        p.elapsed_s = seconds_since(t0);
        const double done = (epoch - 1) * steps_per_epoch + step + 1.0;
        p.remaining_s = seconds_since(train_start) / done * (static_cast<double>(o.epochs) * steps_per_epoch - done);
        progress(p);
      }
    }
    if (report.stopped) break;
    report.epoch_losses.push_back(loss_sum / steps_per_epoch);
    report.epochs_done = epoch;
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

}  // namespace differnet
