// Feature configuration: backbone layers as configuration, per-dimension standardisation,
// training without rotations, the held-out learning curve, and the Ledoit-Wolf Gaussian yardstick.
#include <gtest/gtest.h>

#include <random>

#include "gaussian_baseline.h"
#include "model.h"
#include "scoring.h"
#include "test_support.h"
#include "trainer.h"

using namespace differnet;

namespace {
Backbone squeezenet() { return Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"); }

ModelConfig layered_config(const std::vector<std::string>& layers, bool standardize) {
  ModelConfig c = fixtures::tiny_config(16);
  const Backbone b = squeezenet();
  c.layers = layers;
  c.layer_channels.clear();
  for (const auto& l : layers) c.layer_channels.push_back(b.layer_channels(l));
  c.standardize = standardize;
  return c;
}
}  // namespace

// "last" is the trunk; each fire module taps the map the full trunk computes on its way.
TEST(Features, BackboneTaps) {
  const Backbone b = squeezenet();
  EXPECT_EQ(Backbone::layer_names("squeezenet1_1").size(), 8u);
  EXPECT_EQ(b.layer_channels("fire6"), 384);
  EXPECT_EQ(b.layer_channels("fire8"), 512);
  EXPECT_EQ(b.layer_channels("last"), 512);
  EXPECT_THROW(b.layer_channels("fire10"), Error);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::rand({1, 3, 96, 96}, at::TensorOptions().dtype(at::kFloat));
  const auto maps = b.taps(x, {"fire6", "last", "fire2"});
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].size(1), 384);
  EXPECT_EQ(maps[2].size(1), 128);
  EXPECT_TRUE(at::equal(maps[1], b.trunk(x)));
  EXPECT_TRUE(at::equal(b.taps(x, {"fire6"})[0], maps[0]));  // stopping early changes nothing
}

// Several layers at three scales: D = (384 + 512) * 3, in the configured order.
TEST(Features, LayeredExtractorDimension) {
  Model m = Model::create(layered_config({"fire6", "fire9"}, false), squeezenet(), 1);
  EXPECT_EQ(m.config.feature_dim(), (384 + 512) * 3);
  at::NoGradGuard no_grad;
  const at::Tensor f = m.extractor.features(at::rand({2, 3, 128, 128}));
  EXPECT_EQ(f.size(1), m.config.feature_dim());
  // A configuration whose channel counts do not match the backbone is refused.
  ModelConfig bad = layered_config({"fire6"}, false);
  bad.layer_channels = {512};
  EXPECT_THROW(Model::create(bad, squeezenet(), 1), Error);
}

// Standardisation statistics come from training, are saved and loaded, and give the same scores.
TEST(Features, StandardizedModelTrainsAndRoundTrips) {
  Model m = Model::create(layered_config({"fire6"}, true), squeezenet(), 3);
  std::vector<Image> good, held;
  for (int i = 0; i < 6; ++i) good.push_back(fixtures::make_texture(96, 96, 300 + i));
  for (int i = 0; i < 2; ++i) held.push_back(fixtures::make_texture(96, 96, 400 + i));
  TrainOptions o;
  o.epochs = 4;
  o.batch_size = 3;
  o.rotation_deg = 0;
  o.heldout_images = fixtures::resized_for_training(held, 128);
  o.heldout_every = 2;
  const auto images = fixtures::resized_for_training(good, 128);
  TrainReport r = train_flow(m, images, o);
  EXPECT_EQ(r.epochs_done, 4);
  ASSERT_EQ(r.heldout_losses.size(), 2u);  // epochs 2 and 4
  EXPECT_EQ(r.heldout_losses[0].first, 2);
  EXPECT_TRUE(std::isfinite(r.heldout_losses[1].second));
  EXPECT_EQ(m.config.train_rotation_deg, 0.0);

  // The training features, standardised, have mean 0 and std 1 per dimension.
  {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> feats;
    for (const auto& im : images) feats.push_back(m.extractor.features(make_copies(im, {0.0}, m.config)));
    const at::Tensor f = at::cat(feats, 0);
    EXPECT_LT(f.mean(0).abs().max().item<double>(), 1e-3);
    const at::Tensor varying = m.extractor.feature_std() > 1e-3 * m.extractor.feature_std().mean();
    EXPECT_LT((f.std(0) - 1).abs().masked_select(varying).max().item<double>(), 1e-2);
  }

  const std::string path = fixtures::temp_dir() + "/std.model";
  save_model(m, path);
  Model loaded = load_model(path);
  EXPECT_TRUE(loaded.config.standardize);
  EXPECT_EQ(loaded.config.layers, std::vector<std::string>{"fire6"});
  EXPECT_EQ(loaded.config.train_rotation_deg, 0.0);
  EXPECT_TRUE(at::equal(loaded.extractor.feature_mean(), m.extractor.feature_mean()));
  at::NoGradGuard no_grad;
  EXPECT_DOUBLE_EQ(score_image(loaded, images[0], 1, false).score, score_image(m, images[0], 1, false).score);
}

// The coefficient equals the textbook Ledoit-Wolf (2004) formula, computed here the long way.
TEST(Features, LedoitWolfShrinkage) {
  std::mt19937 rng(5);
  std::normal_distribution<double> normal;
  const int n = 20, p = 6;
  at::Tensor x = at::empty({n, p}, at::kDouble);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < p; ++j) x[i][j] = normal(rng) * (1.0 + j);
  x = x - x.mean(0);
  const at::Tensor s = x.t().mm(x) / n;
  const double m = s.trace().item<double>() / p;
  const double d2 = (s - m * at::eye(p, at::kDouble)).pow(2).sum().item<double>() / p;
  double b2 = 0;
  for (int k = 0; k < n; ++k) b2 += (x[k].unsqueeze(1).mm(x[k].unsqueeze(0)) - s).pow(2).sum().item<double>() / p;
  b2 = std::min(b2 / (static_cast<double>(n) * n), d2);
  EXPECT_NEAR(ledoit_wolf_shrinkage(x), b2 / d2, 1e-12);

  // Few samples in many dimensions: strong shrinkage, a covariance that inverts, finite distances.
  GaussianBaseline g;
  const at::Tensor few = at::randn({10, 50}, at::kDouble);
  g.fit(few);
  EXPECT_GT(g.shrinkage(), 0.3);
  EXPECT_LE(g.shrinkage(), 1.0);
  EXPECT_TRUE(at::isfinite(g.distances(few)).all().item<bool>());
  // Far from the data scores higher than the data.
  EXPECT_GT(g.distances(few + 10).min().item<double>(), g.distances(few).max().item<double>());
}

// The whitening is the yardstick's metric: |(f - mean) W|^2 / D equals the Ledoit-Wolf Gaussian's
// Mahalanobis distance, and W^-2 is its shrunk covariance.
TEST(Features, LedoitWolfWhiteningIsTheGaussianMetric) {
  // Fewer samples than dimensions (the shrinkage carries it; computed from the n x n Gram matrix)
  // and more (through the p x p covariance).
  for (const int n : {12, 30}) {
    std::mt19937 rng(11);
    std::normal_distribution<double> normal;
    const int p = 20;
    at::Tensor x = at::empty({n, p}, at::kDouble);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < p; ++j) x[i][j] = normal(rng) * (1.0 + j % 5) + (j == 3 ? x[i][0].item<double>() : 0.0);
    const Whitening w = ledoit_wolf_whitening(x);
    EXPECT_GT(w.shrinkage, 0.0) << n;
    ASSERT_EQ(w.matrix.sizes(), (at::IntArrayRef{p, p}));
    EXPECT_TRUE(at::allclose(w.matrix, w.matrix.t(), 0, 1e-6)) << n;
    // log |det W|, what turns a whitened density into one of the features themselves
    EXPECT_NEAR(w.log_det, std::get<1>(at::linalg_slogdet(w.matrix.to(at::kDouble))).item<double>(), 1e-3 * std::abs(w.log_det) + 1e-6) << n;
    GaussianBaseline g;
    g.fit(x);
    const at::Tensor probe = at::cat({x, x * 1.5 + 2.0}, 0);
    const at::Tensor whitened = at::matmul(probe.to(at::kFloat) - w.mean, w.matrix).to(at::kDouble);
    EXPECT_TRUE(at::allclose(whitened.pow(2).sum(1) / p, g.distances(probe), 1e-4, 1e-6)) << n;
    EXPECT_THROW(ledoit_wolf_whitening(x.slice(0, 0, 1)), Error);
    at::Tensor bad = x.clone();
    bad[2][2] = std::nan("");
    EXPECT_THROW(ledoit_wolf_whitening(bad), Error) << n;
  }
}

// A whitened model: the whitening is fitted in training, centres the training features, is saved
// and loaded with the model, and gives the same scores; bad configurations and tensors are refused.
TEST(Features, WhitenedModelTrainsAndRoundTrips) {
  ModelConfig c = layered_config({"fire6"}, true);
  c.whiten = true;
  Model m = Model::create(c, squeezenet(), 3);
  ASSERT_TRUE(m.extractor.whitens());
  std::vector<Image> good;
  for (int i = 0; i < 6; ++i) good.push_back(fixtures::make_texture(96, 96, 300 + i));
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 3;
  o.rotation_deg = 0;
  o.feature_cache = 1;
  const auto images = fixtures::resized_for_training(good, 128);
  TrainReport r = train_flow(m, images, o);
  EXPECT_EQ(r.epochs_done, 2);
  EXPECT_GT(r.whitening_shrinkage, 0.0);  // 6 vectors in D = 1152: shrunk hard
  EXPECT_LE(r.whitening_shrinkage, 1.0);
  EXPECT_FALSE(at::equal(m.extractor.whitening_matrix(), at::eye(c.feature_dim(), at::kFloat)));
  // Hard shrinkage of features with std 1: the whitening stretches, and reports by how much.
  EXPECT_NEAR(r.whitening_log_det_per_dim,
              std::get<1>(at::linalg_slogdet(m.extractor.whitening_matrix().to(at::kDouble))).item<double>() / c.feature_dim(), 1e-3);
  EXPECT_GT(r.whitening_log_det_per_dim, 0.0);
  {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> feats, raw;
    for (const auto& im : images) {
      const at::Tensor copies = make_copies(im, {0.0}, m.config);
      feats.push_back(m.extractor.features(copies));
      raw.push_back(m.extractor.raw_features(copies));
    }
    const at::Tensor f = at::cat(feats, 0);
    EXPECT_LT(f.mean(0).abs().max().item<double>(), 1e-3);  // centred
    // The same as the yardstick fitted to the standardised training features.
    const at::Tensor standardized = (at::cat(raw, 0) - m.extractor.feature_mean()) / m.extractor.feature_std();
    GaussianBaseline g;
    g.fit(standardized);
    EXPECT_TRUE(at::allclose(f.to(at::kDouble).pow(2).sum(1) / f.size(1), g.distances(standardized), 1e-3, 1e-5));
  }
  const std::string path = fixtures::temp_dir() + "/white.model";
  save_model(m, path);
  Model loaded = load_model(path);
  EXPECT_TRUE(loaded.config.whiten);
  EXPECT_TRUE(at::equal(loaded.extractor.whitening_matrix(), m.extractor.whitening_matrix()));
  EXPECT_TRUE(at::equal(loaded.extractor.whitening_centre(), m.extractor.whitening_centre()));
  {
    at::NoGradGuard no_grad;
    EXPECT_DOUBLE_EQ(score_image(loaded, images[0], 1, false).score, score_image(m, images[0], 1, false).score);
  }
  // Whitening needs standardisation; a non-finite or misshapen matrix is refused.
  ModelConfig unstandardized = c;
  unstandardized.standardize = false;
  EXPECT_THROW(Model::create(unstandardized, squeezenet(), 1), Error);
  at::Tensor nan_matrix = m.extractor.whitening_matrix().clone();
  nan_matrix[0][0] = std::nan("");
  EXPECT_THROW(m.extractor.set_whitening(m.extractor.whitening_centre(), nan_matrix), Error);
  EXPECT_THROW(m.extractor.set_whitening(m.extractor.whitening_centre(), nan_matrix.slice(0, 1)), Error);
  Model plain = Model::create(layered_config({"fire6"}, true), squeezenet(), 1);
  EXPECT_THROW(plain.extractor.set_whitening(m.extractor.whitening_centre(), m.extractor.whitening_matrix()), Error);
}
