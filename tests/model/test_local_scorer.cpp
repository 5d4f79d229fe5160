// The local scorer (model/local_scorer.h): fitted on good synthetic textures, its map puts the heat on
// a planted spot, from the forward pass; it round-trips through the model file; files without it
// still load and localize with the gradient; bad configurations and tensors are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "detector.h"
#include "local_training.h"
#include "metrics.h"
#include "preprocess.h"
#include "runtime.h"
#include "safetensors.h"
#include "scoring.h"
#include "test_support.h"

using namespace differnet;
using fixtures::Spot;

namespace {
constexpr int kSize = 96;  // image side in pixels; the model resizes to 128

ModelConfig local_config(const std::string& grid = "deepest") {
  ModelConfig c = fixtures::tiny_config(16);
  c.local.grid = grid;
  c.local.layers = {"fire5", "fire7"};
  c.local.layer_channels = {256, 384};
  c.local.dim = 64;
  // At 128 px the coarser scales leave 3 x 3 and 1 x 1 cells of fire7: too few cells of 12 images
  // for a Gaussian in 64 dimensions. The finest scale alone (7 x 7 cells).
  c.local.scales = {0};
  return c;
}

// A tiny model with a local scorer fitted on 12 good textures (seconds).
Model fitted_model(const std::string& grid = "deepest") {
  Model m = Model::create(local_config(grid), Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"), 1);
  std::vector<Image> good;
  for (int i = 0; i < 12; ++i) good.push_back(fixtures::make_texture(kSize, kSize, 100 + i));
  const LocalFitReport r = fit_local_scorer(m, fixtures::resized_for_training(good, 128), 5);
  EXPECT_EQ(r.images, 12);
  EXPECT_EQ(r.cells.size(), 1u);
  EXPECT_TRUE(m.extractor.local().fitted());
  return m;
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

// The map's heat lies on the spot: its mean over the spot against elsewhere, its peak's distance, and
// the map's maximum (the local image score) above every good texture's.
class LocalGrid : public ::testing::TestWithParam<std::string> {};

TEST_P(LocalGrid, FindsThePlantedSpot) {
  Model model = fitted_model(GetParam());
  double worst_good = 0;
  for (int i = 0; i < 6; ++i) {
    const ScoreResult r = score_image(model, levels_of(fixtures::make_texture(kSize, kSize, 700 + i)), 1, true, MapMethod::Local);
    ASSERT_TRUE(r.map.defined());
    worst_good = std::max(worst_good, r.local_score);
  }
  for (int i = 0; i < 4; ++i) {
    const Spot spot{24 + 14 * i, 70 - 10 * i, 6};
    const ScoreResult r =
        score_image(model, levels_of(fixtures::make_texture(kSize, kSize, 800 + i, spot)), 1, true, MapMethod::Local);
    ASSERT_EQ(r.map.sizes().vec(), (std::vector<int64_t>{32, 32}));  // a quarter of the 128-px input
    const int64_t n = 32;
    const at::Tensor map = r.map.to(at::kDouble);
    const at::Tensor coords = (at::arange(n, at::kDouble) + 0.5) * (static_cast<double>(kSize) / n);
    const at::Tensor dy = coords.view({n, 1}) - spot.y, dx = coords.view({1, n}) - spot.x;
    const at::Tensor inside = (dx * dx + dy * dy) <= spot.radius * spot.radius;
    const double contrast = (map.masked_select(inside).mean() / map.masked_select(~inside).mean()).item<double>();
    const int64_t peak = map.argmax().item<int64_t>();
    const double distance = std::hypot(coords[peak % n].item<double>() - spot.x, coords[peak / n].item<double>() - spot.y);
    std::printf("%s grid, spot %d at (%d,%d): local map %.1fx hotter on the spot; peak at (%.0f,%.0f), %.1f px from its centre; max %.2f (good at most %.2f)\n",
                GetParam().c_str(), i, spot.x, spot.y, contrast, coords[peak % n].item<double>(), coords[peak / n].item<double>(),
                distance, r.local_score, worst_good);
    // A cell of the deepest map is 128/7 input px, 13.7 image px: the peak within two cells.
    EXPECT_LE(distance, 2 * 13.7) << "spot " << i;
    EXPECT_GE(contrast, 2.0) << "spot " << i;
    EXPECT_GT(r.local_score, worst_good) << "spot " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(BothGrids, LocalGrid, ::testing::Values("deepest", "shallowest"));

// On the shallowest grid, each layer is averaged and projected on its own grid and the deeper one
// resampled: the same cells as averaging every channel, resampling it and projecting the concatenation.
TEST(LocalScorer, ShallowestGridCellsAreTheConcatenatedCellsProjected) {
  const ModelConfig c = local_config("shallowest");
  LocalScorer scorer(c);
  at::manual_seed(3);
  const at::Tensor shallow = at::rand({2, 256, 15, 15}), deep = at::rand({2, 384, 7, 7});
  const at::Tensor cells = scorer.cells(0, {shallow, deep});
  ASSERT_EQ(cells.sizes().vec(), (std::vector<int64_t>{2, 15, 15, 64}));
  auto averaged = [](const at::Tensor& t) { return at::avg_pool2d(t, {3, 3}, {1, 1}, {1, 1}, false, true); };
  const at::Tensor up = at::upsample_bilinear2d(averaged(deep).to(at::kDouble), {15, 15}, false);
  const at::Tensor x = at::cat({averaged(shallow).to(at::kDouble), up}, 1).permute({0, 2, 3, 1});
  const at::Tensor a = scorer.named_tensors().at("local.scale0.matrix").to(at::kDouble);
  const at::Tensor expected = at::matmul(x, a);
  // Every step is a sum of non-negative weights times float values: each result is within
  // (terms) * float epsilon of the sum of the absolute terms; 640 channels, 9 cells, 4 taps.
  const at::Tensor bound = at::matmul(x.abs(), a.abs()) * (640.0 + 9 + 4) * 1.2e-7;
  EXPECT_TRUE(((cells.to(at::kDouble) - expected).abs() <= bound).all().item<bool>())
      << "largest excess " << ((cells.to(at::kDouble) - expected).abs() - bound).max().item<double>();
  // The deepest grid's cells of the same maps: 7 x 7
  LocalScorer coarse(local_config("deepest"));
  EXPECT_EQ(coarse.cells(0, {shallow, deep}).sizes().vec(), (std::vector<int64_t>{2, 7, 7, 64}));
  EXPECT_THROW(scorer.cells(0, {shallow, deep.slice(1, 0, 100)}), Error);
}

// A bf16 backbone's maps are projected in bf16 and averaged afterwards: the cells of those maps
// (their bf16 values, exactly) within the rounding of bf16 weights and results (2^-9 relative each,
// of the sum of the absolute terms) and fp32's accumulation, as above. Where this CPU's kernels run
// no bf16 convolutions the product never hands the scorer bf16 maps (the backbone refuses bf16).
TEST(LocalScorer, Bf16MapsAreProjectedWithinBf16Rounding) {
  if (!cpu_runs_bf16_convolutions()) {
    std::printf("skipped: this CPU's kernels run no bf16 convolutions\n");
    return;
  }
  const ModelConfig c = local_config("shallowest");
  LocalScorer scorer(c);
  at::manual_seed(4);
  const at::Tensor shallow = at::rand({2, 256, 15, 15}).to(at::kBFloat16), deep = at::rand({2, 384, 7, 7}).to(at::kBFloat16);
  const at::Tensor cells = scorer.cells(0, {shallow, deep});
  ASSERT_EQ(cells.scalar_type(), at::kFloat);
  ASSERT_EQ(cells.sizes().vec(), (std::vector<int64_t>{2, 15, 15, 64}));
  auto averaged = [](const at::Tensor& t) { return at::avg_pool2d(t, {3, 3}, {1, 1}, {1, 1}, false, true); };
  const at::Tensor up = at::upsample_bilinear2d(averaged(deep.to(at::kDouble)), {15, 15}, false);
  const at::Tensor x = at::cat({averaged(shallow.to(at::kDouble)), up}, 1).permute({0, 2, 3, 1});
  const at::Tensor a = scorer.named_tensors().at("local.scale0.matrix").to(at::kDouble);
  const at::Tensor expected = at::matmul(x, a);
  const double bf16_rounding = std::ldexp(1.0, -9);
  const at::Tensor bound = at::matmul(x.abs(), a.abs()) * (2 * bf16_rounding + (640.0 + 9 + 4) * 1.2e-7);
  const at::Tensor error = (cells.to(at::kDouble) - expected).abs();
  EXPECT_TRUE((error <= bound).all().item<bool>()) << "largest excess " << (error - bound).max().item<double>();
  // and not the fp32 path by accident: bf16 weights leave a trace above fp32's rounding
  const at::Tensor fp32_bound = at::matmul(x.abs(), a.abs()) * (640.0 + 9 + 4) * 1.2e-7;
  EXPECT_FALSE((error <= fp32_bound).all().item<bool>());
}

// Saved and loaded, the scorer gives the same map; the Detector reports the peak in frame pixels.
TEST(LocalScorer, RoundTripsAndTheDetectorReportsThePeak) {
  Model model = fitted_model();
  const std::string path = write_calibrated(model, "local.model");
  Model loaded = load_model(path);
  ASSERT_TRUE(loaded.config.local.enabled());
  ASSERT_TRUE(loaded.extractor.local().fitted());
  const Spot spot{60, 30, 6};
  const Image img = fixtures::make_texture(kSize, kSize, 801, spot);
  const at::Tensor a = score_image(model, levels_of(img), 1, true, MapMethod::Local).map;
  const at::Tensor b = score_image(loaded, levels_of(img), 1, true, MapMethod::Local).map;
  // The same arithmetic on the same weights (stored as float32): equal up to the last bits.
  EXPECT_LE((a - b).abs().max().item<double>(), 1e-5 * a.abs().max().item<double>());

  DetectorOptions o;
  o.model_path = path;
  o.device = fixtures::test_device();
  Detector detector(o);
  EXPECT_TRUE(detector.summary().local_scorer);
  DetectRequest r;
  r.localize = true;  // Auto: the local scorer
  const Detection d = detector.detect(img.view(), r);
  EXPECT_TRUE(d.heatmap.local);
  EXPECT_FALSE(std::isnan(d.local_score));
  EXPECT_LE(std::hypot(d.peak_x - spot.x, d.peak_y - spot.y), 2 * 13.7);
  // Within a region the peak is still in frame pixels.
  DetectRequest in_region = r;
  in_region.region = Region{40, 10, 50, 50};
  const Detection dr = detector.detect(img.view(), in_region);
  EXPECT_GE(dr.peak_x, 40);
  EXPECT_LT(dr.peak_x, 90);
  EXPECT_GE(dr.peak_y, 10);
  EXPECT_LT(dr.peak_y, 60);
  // On anomaly only: the map comes with a frame judged anomalous, none with a good one.
  DetectRequest on_anomaly;
  on_anomaly.localize_on_anomaly = true;
  on_anomaly.threshold = 1e30;
  const Detection good = detector.detect(img.view(), on_anomaly);
  EXPECT_TRUE(good.heatmap.values.empty());
  EXPECT_EQ(good.peak_x, -1);
  on_anomaly.threshold = 0;
  EXPECT_FALSE(detector.detect(img.view(), on_anomaly).heatmap.values.empty());
  // The gradient stays one setting away.
  r.localization = Localization::Gradient;
  const Detection g = detector.detect(img.view(), r);
  EXPECT_FALSE(g.heatmap.local);
  EXPECT_FALSE(g.heatmap.values.empty());
  EXPECT_TRUE(std::isnan(detector.summary().pixel_threshold));  // none stored: no regions
  EXPECT_TRUE(d.defects.empty());

  // With a pixel threshold: the cells at or above it, as boxes in frame pixels, hottest first; the
  // hottest holds the spot's centre (within one cell of fire7's map, 13.7 px), none leaves the frame.
  model.calibration.pixel_threshold = 0.5 * d.local_score;
  const std::string with_regions = write_calibrated(model, "regions.model");
  Detector regions_detector(DetectorOptions{with_regions, fixtures::test_device(), 2});
  EXPECT_DOUBLE_EQ(regions_detector.summary().pixel_threshold, 0.5 * d.local_score);
  r.localization = Localization::Auto;
  const Detection dd = regions_detector.detect(img.view(), r);
  ASSERT_FALSE(dd.defects.empty());
  const Region& top = dd.defects[0].box;
  EXPECT_GE(spot.x, top.x - 14);
  EXPECT_LE(spot.x, top.x + top.width + 14);
  EXPECT_GE(spot.y, top.y - 14);
  EXPECT_LE(spot.y, top.y + top.height + 14);
  for (size_t k = 0; k < dd.defects.size(); ++k) {
    const DefectRegion& region = dd.defects[k];
    EXPECT_TRUE(region.box.fits(kSize, kSize)) << k;
    EXPECT_GE(region.peak, 0.5 * d.local_score) << k;
    if (k > 0) {
      EXPECT_LE(region.peak, dd.defects[k - 1].peak) << k;
    }
  }
  EXPECT_TRUE(regions_detector.detect(img.view(), [&] {
    DetectRequest gradient = r;
    gradient.localization = Localization::Gradient;  // gradient maps have other units: no regions
    return gradient;
  }()).defects.empty());
  model.calibration.pixel_threshold = 2.0 * d.local_score;  // above every cell: none
  Detector none(DetectorOptions{write_calibrated(model, "high.model"), fixtures::test_device(), 2});
  EXPECT_TRUE(none.detect(img.view(), r).defects.empty());
}

// A model file without a local scorer (every file written before it) loads and localizes with the
// gradient; asking it for the local map is a clear error.
TEST(LocalScorer, FilesWithoutItLocalizeWithTheGradient) {
  Model model = fixtures::tiny_model(3, 16);
  const std::string path = write_calibrated(model, "plain.model");
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata.at("config").find("\"local\""), std::string::npos);
  DetectorOptions o;
  o.model_path = path;
  o.device = fixtures::test_device();
  Detector detector(o);
  EXPECT_FALSE(detector.summary().local_scorer);
  DetectRequest r;
  r.localize = true;
  const Image img = fixtures::make_texture(kSize, kSize, 5);
  const Detection d = detector.detect(img.view(), r);
  EXPECT_FALSE(d.heatmap.local);
  EXPECT_FALSE(d.heatmap.values.empty());
  EXPECT_GE(d.peak_x, 0);
  r.localization = Localization::Local;
  try {
    detector.detect(img.view(), r);
    FAIL() << "local localization without a local scorer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has none"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_localization("sharp"), Error);
  EXPECT_EQ(parse_localization("local"), Localization::Local);
}

// Nonsense local blocks and missing or misshapen tensors are refused with the reason.
TEST(LocalScorer, BadConfigurationsAndTensorsAreRefused) {
  auto refused = [](ModelConfig c, const std::string& expected) {
    try {
      c.validate();
      ADD_FAILURE() << "accepted: " << expected;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  ModelConfig c = local_config();
  c.local.dim = 641;
  refused(c, "exceeds the layers' 640 channels");
  c = local_config();
  c.local.neighbourhood = 2;
  refused(c, "neighbourhood must be odd");
  c = local_config();
  c.local.scales = {0, 3};
  refused(c, "is not one of the model's 3 scales");
  c = local_config();
  c.local.layer_channels = {256};
  refused(c, "one count per layer");
  refused(local_config("middle"), "grid must be deepest or shallowest");
  // A file written before the grid setting has the deepest grid.
  std::string old_file = local_config("shallowest").to_json();
  const size_t at = old_file.find("\"grid\":\"shallowest\",");
  ASSERT_NE(at, std::string::npos) << old_file;
  old_file.erase(at, std::string("\"grid\":\"shallowest\",").size());
  EXPECT_EQ(ModelConfig::from_json(old_file).local.grid, "deepest");
  EXPECT_EQ(ModelConfig::from_json(local_config("shallowest").to_json()).local.grid, "shallowest");
  // A round trip of the JSON keeps every field.
  c = local_config();
  c.local.sigma = 2.5;
  c.local.scales = {2, 0};
  const ModelConfig back = ModelConfig::from_json(c.to_json());
  EXPECT_EQ(back.local.layers, c.local.layers);
  EXPECT_EQ(back.local.scales, c.local.scales);
  EXPECT_EQ(back.local.dim, 64);
  EXPECT_DOUBLE_EQ(back.local.sigma, 2.5);

  // An unfitted scorer cannot be saved; a file missing a local tensor cannot be loaded.
  Model unfitted = Model::create(local_config(), Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors"), 1);
  EXPECT_THROW(save_model(unfitted, fixtures::temp_dir() + "/unfitted.model"), Error);
  Model model = fitted_model();
  const std::string path = write_calibrated(model, "local.model");
  SafetensorsFile file = read_safetensors(path);
  file.tensors.erase("local.scale0.offset");
  file.metadata.erase("tensor_sha256");
  const std::string broken = fixtures::temp_dir() + "/broken.model";
  write_safetensors(broken, file);
  try {
    load_model(broken);
    FAIL() << "a model without local.scale0.offset loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("local.scale0.offset"), std::string::npos) << e.what();
  }
}
