// The local flow (model/local_flow.h): untrained it scores as the Gaussian; its log-determinant is
// that of its Jacobian; it learns what neighbouring cells share, which the Gaussian cannot; trained on
// good synthetic textures it still puts the heat on a planted spot; it round-trips through the model
// file and a file that lacks or adds its tensors is refused.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "local_flow_training.h"
#include "local_training.h"
#include "preprocess.h"
#include "safetensors.h"
#include "scoring.h"
#include "test_support.h"

using namespace differnet;
using fixtures::Spot;

namespace {
constexpr int kSize = 96;  // image side in pixels; the model resizes to 128

ModelConfig flow_config(int blocks) {
  ModelConfig c = fixtures::tiny_config(16);
  c.local.grid = "shallowest";  // fire5's 15 x 15 cells at 128 px
  c.local.layers = {"fire5", "fire7"};
  c.local.layer_channels = {256, 384};
  c.local.dim = 32;
  c.local.scales = {0};
  c.local.flow_blocks = blocks;
  c.local.flow_hidden = 16;
  return c;
}

Model create(const ModelConfig& c) {
  return Model::create(c, Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"), 1);
}

std::vector<at::Tensor> textures(int count, uint32_t first) {
  std::vector<Image> good;
  for (int i = 0; i < count; ++i) good.push_back(fixtures::make_texture(kSize, kSize, first + static_cast<uint32_t>(i)));
  return fixtures::resized_for_training(good, 128);
}

at::Tensor levels_of(const Image& img) { return resize_antialiased(frame_to_rgb(img.view(), Region{}), 128); }

std::string write_calibrated(Model& model, const std::string& name) {
  model.calibration.calibrated = true;
  model.calibration.threshold = 2.0;
  model.calibration.transforms = 1;
  model.calibration.good_count = 4;
  model.calibration.good_mean = 1.5;
  model.calibration.good_std = 0.3;
  model.calibration.good_max = 2.0;
  const std::string path = fixtures::temp_dir() + "/" + name;
  save_model(model, path);
  return path;
}
}  // namespace

// Before training, the subnets' last convolutions are zero: the flow is the identity, and a cell scores
// the Gaussian's mean of squares. The two are the same sum of squares, once divided by dim and once
// halved, doubled and divided: equal within a few float roundings of the score.
TEST(LocalFlow, UntrainedScoresAsTheGaussian) {
  Model m = create(flow_config(2));
  const LocalFitReport r = fit_local_scorer(m, textures(12, 100), 5);
  ASSERT_EQ(r.whitened_maps.size(), 1u);
  ASSERT_EQ(r.whitened_maps[0].size(), 12u);
  EXPECT_EQ(r.whitened_maps[0][0].sizes().vec(), (std::vector<int64_t>{32, 15, 15}));
  const LocalScorer& local = m.extractor.local();
  ASSERT_TRUE(local.flow().enabled());
  const at::Tensor cells = m.extractor.local_cells(make_copies(textures(1, 900)[0], {0.0}, m.config))[0];
  const at::Tensor gaussian = LocalScorer::cell_scores(cells), flow = local.score_cells(0, cells);
  EXPECT_LE((gaussian - flow).abs().max().item<double>(), 1e-5 * gaussian.abs().max().item<double>());
  // The whitened maps kept for training are the fitted scorer's cells, both stored as half (2^-11
  // relative each), computed in float in two orders (projection then whitening, or both at once).
  const at::Tensor again = whitened_cell_maps(m, textures(1, 100))[0][0].to(at::kFloat);
  const at::Tensor kept = r.whitened_maps[0][0].to(at::kFloat);
  EXPECT_LE((again - kept).abs().max().item<double>(), 2e-3 * kept.abs().max().item<double>()) << kept.abs().max().item<double>();
}

// log|det J| of the whole map is the sum of the cells' shares: checked against the Jacobian of a
// small flow with non-zero weights, computed by autograd. Each entry of J is a float derivative
// (relative error about 1e-6 of the row's size); to first order log|det J| moves by trace(J^-1 dJ),
// at most 36 x cond(J) x 1e-6: 7e-4 for a condition number below 20 (asserted), inside the 1e-3 asked.
TEST(LocalFlow, LogDeterminantIsTheJacobians) {
  LocalConfig lc;
  lc.layers = {"x"};
  lc.layer_channels = {4};
  lc.dim = 4;
  lc.scales = {0};
  lc.flow_blocks = 2;
  lc.flow_hidden = 3;
  LocalFlow flow(lc);
  TensorMap weights = flow.named_tensors();
  at::manual_seed(11);
  for (auto& [name, t] : weights) t = at::randn(t.sizes(), at::kFloat) * 0.1;
  flow.load(weights);
  const at::Tensor x = at::randn({1, 4, 3, 3}, at::kFloat);
  const LocalFlowOutput out = flow.forward(0, x);
  ASSERT_EQ(out.logdet.sizes().vec(), (std::vector<int64_t>{1, 3, 3}));
  at::Tensor jac = at::zeros({36, 36}, at::kDouble);
  for (int64_t i = 0; i < 36; ++i) {
    const at::Tensor xi = x.clone().set_requires_grad(true);
    const at::Tensor z = flow.forward(0, xi).z.reshape({-1});
    z[i].backward();
    jac[i].copy_(xi.grad().reshape({-1}).to(at::kDouble));
  }
  const at::Tensor singular = at::linalg_svdvals(jac);
  const double condition = (singular.max() / singular.min()).item<double>();
  std::printf("Jacobian: condition number %.1f, log|det| %.4f\n", condition, out.logdet.sum().item<double>());
  ASSERT_LT(condition, 20.0);
  ASSERT_GT(std::abs(out.logdet.sum().item<double>()), 0.5);  // far from the identity's 0
  const auto [sign, logabs] = at::linalg_slogdet(jac);
  EXPECT_GT(sign.item<double>(), 0);
  EXPECT_NEAR(logabs.item<double>(), out.logdet.sum().item<double>(), 1e-3);
  EXPECT_THROW(flow.forward(0, at::zeros({1, 5, 3, 3})), Error);
}

// Cells that go with their neighbours: each cell (i, j) is (a_ij + M a_i,j+1) / sqrt(2), a white noise
// and M a fixed random rotation of the 32 channels, so that every cell alone is N(0, I) (the
// whitened Gaussian's own model) while a cell and its right neighbour share noise across channels
// (cross-covariance M / 2). A coupling block conditions one half of the channels on the other half's
// neighbourhood, which is where this dependence lies. Trained on such maps, the flow gives unseen
// ones a clearly lower negative log-likelihood than the Gaussian alone (0.5 per dimension plus a
// constant): what a per-cell Gaussian cannot see, a convolutional flow can. The margin asked for
// (0.03 per dimension) is a small part of what the dependence leaves to gain.
TEST(LocalFlow, LearnsHowCellsGoWithTheirNeighbours) {
  Model m = create(flow_config(2));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(17);
  const at::Tensor rotation = std::get<0>(at::linalg_qr(at::randn({32, 32}, gen, at::TensorOptions(at::kFloat))));
  auto maps = [&](int count) {
    std::vector<at::Tensor> out;
    for (int i = 0; i < count; ++i) {
      const at::Tensor a = at::randn({32, 16, 17}, gen, at::TensorOptions(at::kFloat));
      const at::Tensor right = at::einsum("cd,dhw->chw", {rotation, a.slice(2, 1, 17)});
      out.push_back(((a.slice(2, 0, 16) + right) / std::sqrt(2.0)).to(at::kHalf).contiguous());
    }
    return out;
  };
  LocalFlowTrainOptions o;
  o.steps = 80;
  o.batch = 8;
  o.crop = 12;
  o.lr = 2e-3;
  o.seed = 3;
  int calls = 0;
  const LocalFlowReport rep = train_local_flow(m, {maps(64)}, {maps(16)}, o, [&](const LocalFlowProgress& p) { calls = p.step; });
  EXPECT_EQ(calls, o.steps);
  ASSERT_EQ(rep.heldout_flow.size(), 1u);
  std::printf("held-out NLL per dimension: flow %.4f, Gaussian alone %.4f; training %.4f -> %.4f\n", rep.heldout_flow[0],
              rep.heldout_gaussian[0], rep.first_loss[0], rep.last_loss[0]);
  EXPECT_LT(rep.last_loss[0], rep.first_loss[0]);
  EXPECT_LT(rep.heldout_flow[0], rep.heldout_gaussian[0] - 0.03);
}

// Trained on the cells of good synthetic textures, the flow's map still peaks on a planted spot,
// above every good texture's maximum. Stopping leaves the flow as it was.
TEST(LocalFlow, TrainedOnGoodTexturesFindsTheSpot) {
  Model m = create(flow_config(2));
  const LocalFitReport r = fit_local_scorer(m, textures(24, 100), 5);
  LocalFlowTrainOptions o;
  o.steps = 40;
  o.batch = 8;
  o.crop = 8;
  o.lr = 5e-4;
  o.seed = 3;
  std::atomic<bool> stop{true};
  const at::Tensor before = m.extractor.local().flow().named_tensors().begin()->second.clone();
  const LocalFlowReport stopped = train_local_flow(m, r.whitened_maps, {}, o, {}, &stop);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_TRUE(m.extractor.local().flow().named_tensors().begin()->second.equal(before));
  const LocalFlowReport rep = train_local_flow(m, r.whitened_maps, {}, o);
  EXPECT_FALSE(rep.stopped);
  EXPECT_LT(rep.last_loss[0], rep.first_loss[0]);
  EXPECT_FALSE(m.extractor.local().flow().named_tensors().begin()->second.equal(before));

  double worst_good = 0;
  for (int i = 0; i < 6; ++i)
    worst_good = std::max(worst_good, score_image(m, levels_of(fixtures::make_texture(kSize, kSize, 700 + i)), 1, true,
                                                  MapMethod::Local).local_score);
  for (int i = 0; i < 3; ++i) {
    const Spot spot{24 + 20 * i, 70 - 16 * i, 6};
    const ScoreResult s = score_image(m, levels_of(fixtures::make_texture(kSize, kSize, 800 + i, spot)), 1, true, MapMethod::Local);
    const int64_t n = s.map.size(0);
    const int64_t peak = s.map.argmax().item<int64_t>();
    const double cell = static_cast<double>(kSize) / n;
    const double distance = std::hypot((peak % n + 0.5) * cell - spot.x, (peak / n + 0.5) * cell - spot.y);
    // fire5's cells are 128/15 input px, 6.4 image px: the peak within two of them.
    EXPECT_LE(distance, 2 * 6.4) << "spot " << i;
    EXPECT_GT(s.local_score, worst_good) << "spot " << i;
  }
}

// Saved and loaded, the flow gives the same map; a file whose configuration has no local flow but
// which holds its tensors, or the reverse, is refused naming the tensor; the JSON keeps the setting.
TEST(LocalFlow, RoundTripsAndMismatchedFilesAreRefused) {
  Model m = create(flow_config(2));
  const LocalFitReport r = fit_local_scorer(m, textures(12, 100), 5);
  LocalFlowTrainOptions o;
  o.steps = 10;
  o.crop = 8;
  o.lr = 2e-3;
  train_local_flow(m, r.whitened_maps, {}, o);
  const std::string path = write_calibrated(m, "local-flow.model");
  const std::string dir = fixtures::temp_dir();
  Model loaded = load_model(path);
  EXPECT_EQ(loaded.config.local.flow_blocks, 2);
  EXPECT_EQ(loaded.config.local.flow_hidden, 16);
  const Image img = fixtures::make_texture(kSize, kSize, 801, Spot{60, 30, 6});
  const at::Tensor a = score_image(m, levels_of(img), 1, true, MapMethod::Local).map;
  const at::Tensor b = score_image(loaded, levels_of(img), 1, true, MapMethod::Local).map;
  EXPECT_LE((a - b).abs().max().item<double>(), 1e-5 * a.abs().max().item<double>());

  SafetensorsFile file = read_safetensors(path);
  file.metadata.erase("tensor_sha256");
  SafetensorsFile missing = file;
  missing.tensors.erase("local.flow.scale0.block1.subnet2.conv2.weight");
  write_safetensors(dir + "/missing.model", missing);
  try {
    load_model(dir + "/missing.model");
    FAIL() << "a model without one of its local flow's tensors loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("local.flow.scale0.block1.subnet2.conv2.weight"), std::string::npos) << e.what();
  }
  SafetensorsFile extra = file;
  ModelConfig without = loaded.config;
  without.local.flow_blocks = 0;
  extra.metadata["config"] = without.to_json();
  EXPECT_EQ(ModelConfig::from_json(extra.metadata["config"]).local.flow_blocks, 0);
  write_safetensors(dir + "/extra.model", extra);
  try {
    load_model(dir + "/extra.model");
    FAIL() << "a model holding local flow tensors its configuration does not name loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no local flow"), std::string::npos) << e.what();
  }
  ModelConfig bad = flow_config(17);
  EXPECT_THROW(bad.validate(), Error);
  bad = flow_config(2);
  bad.local.flow_hidden = 0;
  EXPECT_THROW(bad.validate(), Error);
  bad.local.flow_hidden = 4096;  // 16 blocks of it: far beyond what a model file should make us allocate
  bad.local.flow_blocks = 16;
  bad.local.dim = 256;
  try {
    bad.validate();
    ADD_FAILURE() << "a local flow of 16 blocks x 4096 channels was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("M parameters"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train_local_flow(m, {}, {}, o), Error);  // no maps for its slot
}
