// The image score (model/image_score.h): the pooled Gaussian's distance is the Mahalanobis distance of
// the Ledoit-Wolf Gaussian (as the evaluation tool's yardstick computes it in double); it ranks
// planted spots above unseen good textures; the combined score is the flow's and the Gaussian's,
// each divided by the spread calibration measured; models with each image score round-trip through
// the file, files written before image scores load as the flow's, bad configurations are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "arithmetic_calibration.h"
#include "calibration.h"
#include "gaussian_baseline.h"
#include "metrics.h"
#include "scoring.h"
#include "test_support.h"
#include "trainer.h"

using namespace differnet;

namespace {
constexpr int kSize = 96;

std::vector<at::Tensor> textures(int first, int count, bool spotted = false) {
  std::vector<Image> images;
  for (int i = 0; i < count; ++i)
    images.push_back(spotted ? fixtures::make_texture(kSize, kSize, first + i, fixtures::Spot{24 + 4 * i, 60 - 3 * i, 8})
                             : fixtures::make_texture(kSize, kSize, first + i));
  return fixtures::resized_for_training(images, 128);
}

// The tiny model (untrained flow near the identity, standardised features) with its Gaussian fitted
// on 16 good textures.
Model model_with_gaussian(const std::string& method) {
  ModelConfig c = fixtures::tiny_config(16);
  c.standardize = true;
  c.image_score.method = method;
  c.image_score.gaussian = true;
  Model m = Model::create(c, Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"), 1);
  const double shrinkage = fit_pooled_gaussian(m, textures(100, 16), {}, true);
  EXPECT_GE(shrinkage, 0.0);
  EXPECT_LE(shrinkage, 1.0);
  EXPECT_TRUE(m.gaussian.fitted());
  return m;
}

std::vector<double> image_scores(const Model& m, const std::vector<at::Tensor>& images) {
  std::vector<double> out;
  for (const auto& img : images) out.push_back(score_image(m, img, 1, false).score);
  return out;
}

at::Tensor features_of(const Model& m, const at::Tensor& levels) {
  at::NoGradGuard no_grad;
  return m.extractor.features(make_copies(levels, {0.0}, m.config));
}
}  // namespace

// The stored form (a float whitening matrix) gives the Mahalanobis distance of the Ledoit-Wolf
// Gaussian, computed in double from its precision matrix. The tolerance: the float product sums D
// terms per whitened coordinate and D squares after it (2 x 1,536 terms in series), each term up
// to the distance's own size (gain 1): float32_tolerance(2 D).
TEST(ImageScore, GaussianIsTheMahalanobisDistance) {
  Model m = model_with_gaussian("gaussian");
  std::vector<at::Tensor> train;
  for (const auto& img : textures(100, 16)) train.push_back(features_of(m, img));
  GaussianBaseline reference;
  reference.fit(at::cat(train, 0));
  const int64_t dim = m.config.feature_dim();
  for (const auto& img : textures(700, 3)) {
    const at::Tensor f = features_of(m, img);
    const double expected = reference.distances(f).item<double>();
    const double got = m.gaussian.distances(f).item<double>();
    std::printf("Gaussian distance %.6g, double reference %.6g: relative difference %.2g (tolerance %.2g)\n", got,
                expected, std::abs(got - expected) / expected, fixtures::float32_tolerance(2 * dim));
    EXPECT_NEAR(got, expected, fixtures::float32_tolerance(2 * dim) * expected) << "D=" << dim;
    EXPECT_DOUBLE_EQ(score_image(m, img, 1, false).score, got);  // the model's image score is it
  }
}

// Fitted on 16 good textures, no training: textures with a dark spot score above unseen good ones.
TEST(ImageScore, GaussianRanksPlantedSpotsAboveGoodTextures) {
  Model m = model_with_gaussian("gaussian");
  m.config.image_score.flow_trained = false;  // as learn mode's first model: the flow is never run
  const std::vector<double> good = image_scores(m, textures(700, 8)), bad = image_scores(m, textures(800, 8, true));
  std::vector<double> scores = good;
  scores.insert(scores.end(), bad.begin(), bad.end());
  std::vector<int> labels(8, 0);
  labels.resize(16, 1);
  const double auroc = roc_auc(scores, labels);
  std::printf("pooled Gaussian on 16 textures: ROC AUC %.3f (good %.3f..%.3f, spotted %.3f..%.3f)\n", auroc,
              *std::min_element(good.begin(), good.end()), *std::max_element(good.begin(), good.end()),
              *std::min_element(bad.begin(), bad.end()), *std::max_element(bad.begin(), bad.end()));
  EXPECT_GE(auroc, 0.9);
}

// Calibration measures each part's spread on the good images, and the combined score is the sum of
// the parts divided by them; the threshold is the quantile of the combined scores.
TEST(ImageScore, CombinedScoreIsThePartsOverTheirCalibratedSpreads) {
  Model m = model_with_gaussian("combined");
  std::vector<std::vector<at::Tensor>> good;
  for (const auto& img : textures(700, 8)) good.push_back({img});
  ArithmeticCalibrationOptions o;
  o.arithmetics = {"fp32/fp32"};
  EXPECT_THROW(score_image(m, good[0][0], 1, false), Error) << "uncalibrated: no scales yet";
  m.calibration = calibrate_arithmetics(m, good, "cpu", o);
  // The parts computed as calibration computes them: on a copy prepared for fp32 inference (its
  // kernels may differ from the unprepared model's: channels-last convolutions, another CPU's), so
  // that both sides below are the same float computation and differ only in the double sums after.
  Model p = m;
  p.prepare_for_inference("cpu", Precision::FP32, FlowPrecision::FP32);
  std::vector<double> flow, gauss, combined;
  for (const auto& g : good) {
    const ScoreParts parts = score_parts(p, features_of(p, g[0]), 1);
    flow.push_back(parts.flow.item<double>());
    gauss.push_back(parts.gaussian.item<double>());
    combined.push_back(score_image(p, g[0], 1, false).score);
  }
  auto spread = [](const std::vector<double>& v) {
    double mean = 0, ss = 0;
    for (double x : v) mean += x / v.size();
    for (double x : v) ss += (x - mean) * (x - mean);
    return std::sqrt(ss / (v.size() - 1));
  };
  // The same 8 values' standard deviation in double, summed in another order: within 8 x 2^-52 of
  // their magnitudes, scaled up by 1e3 for the cancellation of the mean (the largest value is about
  // 3 times the spread here, printed below); the combined score: the float sum of two quotients
  // (float32_tolerance(2)).
  const double double_tol = 1e3 * 8 * std::ldexp(1.0, -52), float_tol = fixtures::float32_tolerance(2);
  for (const auto* v : {&flow, &gauss})
    std::printf("parts: largest %.4g, spread %.4g\n", *std::max_element(v->begin(), v->end()), spread(*v));
  EXPECT_NEAR(m.calibration.flow_scale, spread(flow), double_tol * spread(flow) + 1e-300);
  EXPECT_NEAR(m.calibration.gaussian_scale, spread(gauss), double_tol * spread(gauss) + 1e-300);
  for (size_t i = 0; i < good.size(); ++i) {
    const double expected = flow[i] / m.calibration.flow_scale + gauss[i] / m.calibration.gaussian_scale;
    EXPECT_NEAR(combined[i], expected, float_tol * expected);
  }
  const double tol = float_tol;
  EXPECT_GE(m.calibration.threshold, *std::min_element(combined.begin(), combined.end()));
  EXPECT_LE(m.calibration.threshold, *std::max_element(combined.begin(), combined.end()) * (1 + tol));
}

// Each image score round-trips through the model file with the same scores; a file whose
// configuration predates image scores loads as the flow's.
TEST(ImageScore, ModelFilesRoundTrip) {
  const std::vector<at::Tensor> probe = textures(900, 2);
  std::vector<std::vector<at::Tensor>> good;
  for (const auto& img : textures(700, 6)) good.push_back({img});
  ArithmeticCalibrationOptions o;
  o.arithmetics = {"fp32/fp32"};
  for (const std::string method : {"flow", "gaussian", "combined"}) {
    Model m = model_with_gaussian(method);
    m.calibration = calibrate_arithmetics(m, good, "cpu", o);
    const std::string path = fixtures::temp_dir() + "/" + method + ".model";
    save_model(m, path);
    const Model loaded = load_model(path);
    EXPECT_EQ(loaded.config.image_score.method, method);
    EXPECT_TRUE(loaded.gaussian.fitted());
    EXPECT_EQ(loaded.calibration.flow_scale, m.calibration.flow_scale);
    for (const auto& img : probe)
      EXPECT_DOUBLE_EQ(score_image(loaded, img, 1, false).score, score_image(m, img, 1, false).score) << method;
  }
  // Learn mode's first model: the Gaussian alone, no flow stored (a much smaller file).
  Model first = model_with_gaussian("gaussian");
  first.config.image_score.flow_trained = false;
  first.calibration = calibrate_arithmetics(first, good, "cpu", o);
  const std::string first_path = fixtures::temp_dir() + "/first.model", flow_path = fixtures::temp_dir() + "/with-flow.model";
  save_model(first, first_path);
  Model with_flow = first;
  with_flow.config.image_score.flow_trained = true;
  save_model(with_flow, flow_path);
  EXPECT_LT(std::filesystem::file_size(first_path), std::filesystem::file_size(flow_path));
  const Model first_loaded = load_model(first_path);
  EXPECT_FALSE(first_loaded.config.image_score.flow_trained);
  for (const auto& img : probe)
    EXPECT_DOUBLE_EQ(score_image(first_loaded, img, 1, false).score, score_image(first, img, 1, false).score);
  nlohmann::json old = nlohmann::json::parse(fixtures::tiny_config(16).to_json());
  old.erase("image_score");
  const ModelConfig c = ModelConfig::from_json(old.dump());
  EXPECT_EQ(c.image_score.method, "flow");
  EXPECT_FALSE(c.image_score.gaussian);
  EXPECT_TRUE(c.image_score.flow_trained);
}

TEST(ImageScore, BadConfigurationsAreRefused) {
  auto refused = [](const std::function<void(ModelConfig&)>& change, const std::string& words) {
    ModelConfig c = fixtures::tiny_config(16);
    change(c);
    try {
      c.validate();
      ADD_FAILURE() << "accepted; expected an error with '" << words << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refused([](ModelConfig& c) { c.image_score.method = "median"; }, "is not one of flow, gaussian, combined");
  refused([](ModelConfig& c) { c.image_score.method = "gaussian"; }, "needs the pooled Gaussian");
  refused([](ModelConfig& c) { c.image_score.flow_trained = false; }, "needs a trained flow");
  refused([](ModelConfig& c) {
    c.image_score = {"combined", true, false, ""};
  }, "needs a trained flow");
  refused([](ModelConfig& c) { c.image_score.chosen_by = std::string(1001, 'x'); }, "chosen_by has 1001 characters");
  EXPECT_THROW(parse_image_score("Flow"), Error);

  Calibration k = calibrate_from_good_scores({1.0, 1.2, 1.1}, 1);
  k.flow_scale = 0.5;  // without the Gaussian's
  EXPECT_THROW(Calibration::from_json(k.to_json()), Error);
  k.gaussian_scale = -1.0;
  EXPECT_THROW(Calibration::from_json(k.to_json()), Error);
  k.gaussian_scale = 2.0;
  EXPECT_EQ(Calibration::from_json(k.to_json()).gaussian_scale, 2.0);

  // A combined model whose calibration lacks the scales, and a file missing the Gaussian's tensors.
  Model m = model_with_gaussian("combined");
  m.calibration = calibrate_from_good_scores({1.0, 1.2, 1.1}, 1);
  const std::string path = fixtures::temp_dir() + "/no-scales.model";
  save_model(m, path);
  try {
    load_model(path);
    ADD_FAILURE() << "a combined model without scales loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scales"), std::string::npos) << e.what();
  }
  Model g = model_with_gaussian("gaussian");
  g.gaussian = PooledGaussian{};
  EXPECT_THROW(save_model(g, fixtures::temp_dir() + "/unfitted.model"), Error);
}
