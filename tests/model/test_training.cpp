// End to end on synthetic data: a flow trained on a texture separates the same texture with a
// small dark spot, and its localization peak lies inside the spot.
#include <gtest/gtest.h>

#include "metrics.h"
#include "preprocess.h"
#include "scoring.h"
#include "test_support.h"
#include "trainer.h"

using namespace differnet;
using fixtures::Spot;

namespace {
constexpr int kSize = 96;  // image side in pixels; the model resizes to 128
}

// The loss falls with the paper's optimiser settings, with fresh rotations every step (no cache).
TEST(Training, LossFallsWithoutCache) {
  Model model = fixtures::tiny_model(2, 32);
  std::vector<Image> good;
  for (int i = 0; i < 6; ++i) good.push_back(fixtures::make_texture(kSize, kSize, 40 + i));
  TrainOptions o;
  o.epochs = 6;
  o.batch_size = 3;
  o.seed = 1;
  TrainReport r = train_flow(model, fixtures::resized_for_training(good, 128), o);
  ASSERT_EQ(r.epoch_losses.size(), 6u);
  EXPECT_LT(r.epoch_losses.back(), r.epoch_losses.front());
}

// A stop request keeps the weights of the last finished epoch.
TEST(Training, StopKeepsLastFinishedEpoch) {
  Model model = fixtures::tiny_model(2, 16);
  std::vector<Image> good;
  for (int i = 0; i < 4; ++i) good.push_back(fixtures::make_texture(kSize, kSize, 60 + i));
  TrainOptions o;
  o.epochs = 5;
  o.batch_size = 2;
  o.feature_cache = 4;
  std::atomic<bool> stop{false};
  TrainReport r = train_flow(model, fixtures::resized_for_training(good, 128), o, [&](const TrainProgress& p) {
    if (p.epoch == 3 && p.step == 1) stop = true;
  }, &stop);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.epochs_done, 2);

  // A stop while the feature pool is computed ends at once, with no epoch.
  std::atomic<bool> early{false};
  TrainReport r2 = train_flow(model, fixtures::resized_for_training(good, 128), o, [&](const TrainProgress& p) {
    if (p.caching) early = true;
  }, &early);
  EXPECT_TRUE(r2.stopped);
  EXPECT_EQ(r2.epochs_done, 0);
  EXPECT_TRUE(r2.epoch_losses.empty());
}

TEST(Training, BadOptionsAreErrors) {
  Model model = fixtures::tiny_model(2, 16);
  TrainOptions o;
  EXPECT_THROW(train_flow(model, {}, o), Error);
  auto imgs = fixtures::resized_for_training({fixtures::make_texture(kSize, kSize, 1)}, 128);
  o.epochs = 0;
  EXPECT_THROW(train_flow(model, imgs, o), Error);
  o.epochs = 1;
  o.feature_cache = 2;  // fewer than the 4 rotations a step draws
  EXPECT_THROW(train_flow(model, imgs, o), Error);
}

// 10 good vs 10 spotted textures: AUROC 1.0 after training, and the heatmap peaks inside the spot.
TEST(Training, SeparatesPlantedDefectsAndLocalizesThem) {
  const std::string path = fixtures::temp_dir() + "/texture.safetensors";
  fixtures::train_texture_model(path, kSize);
  Model model = load_model(path);
  const auto angles = test_time_angles(4);
  std::vector<double> scores;
  std::vector<int> labels;
  for (int i = 0; i < 20; ++i) {
    const bool bad = i >= 10;
    std::optional<Spot> spot;
    if (bad) spot = Spot{20 + 5 * (i - 10), 30 + 3 * (i - 10), 6};
    Image img = fixtures::make_texture(kSize, kSize, 500 + i, spot);
    at::Tensor levels = resize_antialiased(frame_to_rgb(img.view(), Region{}), 128);
    ScoreResult r = score_copies(model, make_copies(levels, angles, model.config), angles, bad && i < 13);
    scores.push_back(r.score);
    labels.push_back(bad ? 1 : 0);
    if (r.map.defined()) {
      // The map (128 px) in image pixels: its mean over the spot against its mean elsewhere, and
      // where its peak lies. The peak alone is fragile (a second blob can win by a hair on another
      // CPU's arithmetic); the contrast says the heat is on the spot.
      const at::Tensor map = r.map.to(at::kDouble);
      const at::Tensor coords = (at::arange(128, at::kDouble) + 0.5) * (kSize / 128.0);
      const at::Tensor dy = coords.view({128, 1}) - spot->y, dx = coords.view({1, 128}) - spot->x;
      const at::Tensor inside = (dx * dx + dy * dy) <= spot->radius * spot->radius;
      const double contrast = (map.masked_select(inside).mean() / map.masked_select(~inside).mean()).item<double>();
      const int64_t peak = map.argmax().item<int64_t>();
      const double distance = std::hypot(coords[peak % 128].item<double>() - spot->x, coords[peak / 128].item<double>() - spot->y);
      std::printf("image %d: heatmap %.1fx hotter on the spot than off it; peak %.1f px from its centre (radius %d)\n", i,
                  contrast, distance, spot->radius);
      EXPECT_GE(contrast, 3.0) << "image " << i;
      EXPECT_LE(distance, 2.5 * spot->radius) << "image " << i;
    }
  }
  const double auc = roc_auc(scores, labels);
  std::printf("synthetic texture: AUROC %.3f\n", auc);
  EXPECT_EQ(auc, 1.0);
}
