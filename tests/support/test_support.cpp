#include "test_support.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "calibration.h"
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
  return Model::create(tiny_config(flow_width), Backbone::load(source_dir() + "/model/weights/squeezenet1_1.safetensors"), seed);
}

std::vector<at::Tensor> resized_for_training(const std::vector<Image>& images, int size) {
  std::vector<at::Tensor> out;
  for (const auto& im : images) out.push_back(resize_antialiased(frame_to_rgb(im.view(), Region{}), size).to(at::kByte));
  return out;
}

void train_texture_model(const std::string& path, int size, int count, int epochs) {
  Model model = tiny_model(7);
  std::vector<Image> good, held_out;
  for (int i = 0; i < count; ++i) good.push_back(make_texture(size, size, 100 + i));
  for (int i = 0; i < 4; ++i) held_out.push_back(make_texture(size, size, 900 + i));
  TrainOptions o;
  o.epochs = epochs;
  o.batch_size = 6;
  o.feature_cache = 8;
  o.lr = 1e-3;
  o.seed = 3;
  train_flow(model, resized_for_training(good, model.config.input_size), o);
  std::vector<double> scores;
  for (const auto& levels : resized_for_training(held_out, model.config.input_size)) {
    const auto angles = test_time_angles(4);
    scores.push_back(score_copies(model, make_copies(levels, angles, model.config), angles, false).score);
  }
  model.calibration = calibrate_from_good_scores(scores, 4);
  save_model(model, path);
}

}  // namespace differnet::fixtures
