#include "test_support.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "calibration.h"
#include "local_training.h"
#include "preprocess.h"
#include "scoring.h"
#include "trainer.h"

namespace differnet::fixtures {

std::string source_dir() { return DIFFERNET_SOURCE_DIR; }
std::string build_dir() { return DIFFERNET_BUILD_DIR; }

std::string test_device() {
  const char* env = std::getenv("DIFFERNET_TEST_DEVICE");
  return env && *env ? env : "cpu";
}

std::string temp_dir() {
  static std::atomic<int> counter{0};
  const std::string dir = build_dir() + "/test-tmp/" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Image make_texture(int width, int height, uint32_t seed, std::optional<Spot> spot) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 6.0);
  std::uniform_real_distribution<double> jitter(0.0, 6.2831853);
  const double px = jitter(rng), py = jitter(rng);
  Image img;
  img.width = width;
  img.height = height;
  img.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double weave = std::sin(x * 0.7 + px) * std::sin(y * 0.7 + py);
      double v = 140 + 60 * weave + noise(rng);
      if (spot) {
        const double d = std::hypot(x - spot->x, y - spot->y);
        if (d <= spot->radius) v = 25 + noise(rng);
      }
      const uint8_t level = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      uint8_t* p = &img.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = level;
      p[1] = static_cast<uint8_t>(level * 0.9);
      p[2] = static_cast<uint8_t>(level * 0.75);
    }
  return img;
}

ModelConfig tiny_config(int flow_width) {
  ModelConfig c;
  c.input_size = 128;
  c.scales = {128, 64, 32};
  c.flow.width = flow_width;
  return c;
}

Model tiny_model(uint64_t seed, int flow_width) {
  Model m = Model::create(tiny_config(flow_width), Backbone::load(source_dir() + "/model/weights/squeezenet1_1.safetensors"), seed);
  // The subnets' last layers scaled down by 10, so that the untrained flow starts near the identity
  // (Glow's zero initialisation, softened: the couplings stay small but not inert). With PyTorch's
  // initialisation eight random couplings multiply the features by up to e^(3 x 16) and the scores of
  // an untrained model reach 1e18, where every rounding difference is amplified.
  at::NoGradGuard no_grad;
  const std::string last = ".fc" + std::to_string(m.config.flow.hidden_layers) + ".";
  for (auto& [name, t] : m.flow.named_tensors())
    if (name.find(last) != std::string::npos) t.mul_(0.1);
  return m;
}

std::vector<at::Tensor> resized_for_training(const std::vector<Image>& images, int size) {
  std::vector<at::Tensor> out;
  for (const auto& im : images) out.push_back(resize_antialiased(frame_to_rgb(im.view(), Region{}), size).to(at::kByte));
  return out;
}

void train_texture_model(const std::string& path, int size, int count, int epochs, bool local) {
  Model model = tiny_model(7);
  if (local) {
    ModelConfig c = model.config;
    c.local.layers = {"fire5", "fire7"};
    c.local.layer_channels = {256, 384};
    c.local.dim = 64;
    c.local.scales = {0};
    Model with_local = Model::create(c, model.extractor.backbone(), 1);
    with_local.flow = std::move(model.flow);
    model = std::move(with_local);
  }
  std::vector<Image> good, held_out;
  for (int i = 0; i < count; ++i) good.push_back(make_texture(size, size, 100 + i));
  for (int i = 0; i < 4; ++i) held_out.push_back(make_texture(size, size, 900 + i));
  TrainOptions o;
  o.epochs = epochs;
  o.batch_size = 6;
  o.feature_cache = 8;
  o.lr = 1e-3;
  o.seed = 3;
  // Noise of 1 on the features in training (differnet-train --feature-noise): 12 images span a few
  // dozen of the 1536 dimensions, and without it the flow contracts the others until unseen good
  // textures score 1e6 to 1e8 and defective ones 1e11, where every rounding difference between two
  // computations is amplified. With it: good about 1.3, defective 14 to 33 (64-px textures).
  o.feature_noise = 1.0;
  const std::vector<at::Tensor> images = resized_for_training(good, model.config.input_size);
  if (local) fit_local_scorer(model, images, 5);
  train_flow(model, images, o);
  std::vector<double> scores, local_maxima;
  for (const auto& levels : resized_for_training(held_out, model.config.input_size)) {
    const auto angles = test_time_angles(4);
    const at::Tensor copies = make_copies(levels, angles, model.config);
    scores.push_back(score_copies(model, copies, angles, false).score);
    if (local) local_maxima.push_back(score_copies(model, copies, angles, true, false, MapMethod::Local).local_score);
  }
  model.calibration = calibrate_from_good_scores(scores, 4);
  if (local) model.calibration.pixel_threshold = calibrate_from_good_scores(local_maxima, 4).threshold;
  save_model(model, path);
}

double float32_tolerance(int64_t summed_terms, double gain) {
  return 4.0 * static_cast<double>(summed_terms) * std::ldexp(1.0, -24) * gain;
}

int64_t tiny_model_summed_terms(int flow_width) {
  const ModelConfig c = tiny_config(flow_width);
  const int64_t backbone = 5339;  // SqueezeNet 1.1: conv1 (27) + fire2..fire9 (squeeze and expand sums)
  const int64_t d = c.feature_dim();
  const int64_t flow = int64_t{2} * c.flow.blocks * (d / 2 + int64_t{c.flow.hidden_layers} * c.flow.width);
  return backbone + flow + d;
}

double tiny_model_tolerance(int flow_width, bool gradient) {
  return float32_tolerance(tiny_model_summed_terms(flow_width) * (gradient ? 2 : 1));
}

}  // namespace differnet::fixtures
