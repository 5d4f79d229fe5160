// The int8 backbone (Precision::INT8; AlexNet, the paper's): its features follow fp32's within what
// 8-bit quantization allows; precision=auto takes it only for AlexNet on a CPU with VNNI; the
// calibration measures its activation ranges and gives it a threshold of its own; a model without
// ranges is refused with the remedy; the ranges round-trip through the model file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "arithmetic_calibration.h"
#include "detector.h"
#include "model.h"
#include "runtime.h"
#include "test_support.h"

using namespace differnet;

namespace {
// AlexNet (random weights: the int8 arithmetic does not depend on what they learnt) at 128 and 64 px;
// 32 px is below AlexNet's smallest input.
ModelConfig alexnet_config() {
  ModelConfig c = fixtures::tiny_config(16);
  c.backbone = "alexnet";
  c.trunk_channels = 256;
  c.scales = {128, 64};
  return c;
}

Model alexnet_model() { return Model::create(alexnet_config(), Backbone::random("alexnet", 3), 7); }

std::vector<std::vector<at::Tensor>> good_images(int n, int size) {
  std::vector<Image> good;
  for (int i = 0; i < n; ++i) good.push_back(fixtures::make_texture(96, 96, 900 + i));
  std::vector<std::vector<at::Tensor>> images;
  for (const auto& t : fixtures::resized_for_training(good, size)) images.push_back({t});
  return images;
}

bool int8_runs_here() { return select_quantized_engine(); }
}  // namespace

// Eight-bit arithmetic: weights to 127 levels per output channel (a relative error of at most
// 1/254 each; 63 levels and 1/126 on a CPU without VNNI, whose instructions would saturate with
// 127), every activation to 255 levels over its range (at most half a step, 1/510 of the range),
// the input too: six quantizations along five layers. Each adds at most about 1 % of its layer's
// range and they compound through the layers, so the pooled features lie within a few per cent of
// fp32's (about 0.6 % on this test's input with VNNI, 0.9 % with 63 levels); 5 % of their norm is
// the bound. The features must also not be fp32's own (the int8 path ran). Run under each dispatch
// level (scripts/test-dispatch-levels.sh), this catches saturating arithmetic: with 127 levels where
// oneDNN is capped to AVX2 the features land more than 5 % away.
TEST(Int8Backbone, FeaturesFollowFloatWithinQuantizationError) {
  if (!int8_runs_here()) GTEST_SKIP() << "this LibTorch has no quantized engine";
  at::NoGradGuard no_grad;
  Backbone b = Backbone::random("alexnet", 3);
  const at::Tensor x = fixtures::resized_for_training({fixtures::make_texture(160, 160, 5)}, 224)[0].to(at::kFloat) / 255.0;
  const at::Tensor input = (x - 0.45) / 0.225;
  const at::Tensor fp32 = b.taps(input, {"conv3", "last"})[1].mean({2, 3});
  const std::vector<double> ranges = b.int8_ranges(input);
  ASSERT_EQ(ranges.size(), 5u);
  for (double r : ranges) EXPECT_GT(r, 0.0);
  b.set_int8(ranges);
  ASSERT_TRUE(b.int8());
  const std::vector<at::Tensor> maps = b.taps(input, {"conv3", "last"});
  EXPECT_EQ(maps[0].scalar_type(), at::kFloat);
  const at::Tensor int8 = maps[1].mean({2, 3});
  const double relative = ((int8 - fp32).norm() / fp32.norm()).item<double>();
  std::printf("int8 AlexNet: pooled features within %.3f %% of fp32 (norm)\n", 100 * relative);
  EXPECT_LT(relative, 0.05);
  EXPECT_GT(relative, 0.0);
  // An input that needs a gradient (the gradient heatmap) runs the float weights: fp32's features.
  const at::Tensor grad_input = input.clone().requires_grad_(true);
  at::AutoGradMode on(true);
  EXPECT_TRUE(at::allclose(b.taps(grad_input, {"last"})[0].mean({2, 3}), fp32, 1e-5, 1e-6));
  // Moving the weights drops the packed int8 weights (they were packed from the old ones).
  b.to(at::kCPU);
  EXPECT_FALSE(b.int8());
}

TEST(Int8Backbone, RefusedWithTheReason) {
  Backbone squeeze = Backbone::load(fixtures::source_dir() + "/model/weights/squeezenet1_1.safetensors");
  EXPECT_FALSE(Backbone::runs_int8("squeezenet1_1"));
  EXPECT_TRUE(Backbone::runs_int8("alexnet"));
  try {
    squeeze.set_int8({1, 1, 1, 1, 1});
    FAIL() << "int8 SqueezeNet accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no int8 forward"), std::string::npos) << e.what();
  }
  Backbone alex = Backbone::random("alexnet", 3);
  if (int8_runs_here()) {
    EXPECT_THROW(alex.set_int8({1, 1, 1}), Error);
    EXPECT_THROW(alex.set_int8({1, 1, -1, 1, 1}), Error);
  }
  EXPECT_THROW(check_precision("cuda:0", Precision::INT8), Error);
  EXPECT_EQ(parse_precision("int8"), Precision::INT8);
  EXPECT_STREQ(precision_name(Precision::INT8), "int8");

  // A SqueezeNet model: int8 is refused for the backbone.
  Model sq = fixtures::tiny_model(5, 16);
  sq.calibration = Calibration{true, 2.0, 1, "test", 2, 1.0, 0.1, 2.1};
  const std::string sq_path = fixtures::temp_dir() + "/squeeze.model";
  save_model(sq, sq_path);
  try {
    Detector d(DetectorOptions{sq_path, "cpu", 1, "int8", "fp32"});
    FAIL() << "int8 SqueezeNet model accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no int8 forward"), std::string::npos) << e.what();
  }

  // A model without activation ranges: int8 is refused and says how to get them.
  const std::string path = fixtures::temp_dir() + "/alex-uncalibrated.model";
  Model m = alexnet_model();
  m.calibration = Calibration{true, 2.0, 1, "test", 2, 1.0, 0.1, 2.1};
  save_model(m, path);
  try {
    Detector d(DetectorOptions{path, "cpu", 1, "int8", "fp32"});
    FAIL() << "int8 without ranges accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("differnet-calibrate"), std::string::npos) << e.what();
  }
}

// auto: int8 for AlexNet where oneDNN reports VNNI (and ATen has vector kernels), never for a
// backbone without an int8 forward, fp32 where the dispatch levels cap the ISA below VNNI.
TEST(Int8Backbone, AutoTakesItForAlexNetWithVnni) {
  const CpuArithmetic cpu = cpu_arithmetic();
  const bool vector = cpu.aten_capability != "default";
  const AutoPrecision alex = auto_precision("cpu", "alexnet");
  SCOPED_TRACE(alex.reason);
  EXPECT_EQ(alex.backbone == Precision::INT8, vector && cpu.vnni);
  EXPECT_NE(auto_precision("cpu", "squeezenet1_1").backbone, Precision::INT8);
  EXPECT_NE(auto_precision("cpu").backbone, Precision::INT8);
  const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA");
  for (const char* capped : {"SSE41", "AVX", "AVX2", "AVX512_CORE"})
    if (isa && std::string(isa) == capped) EXPECT_EQ(alex.backbone, Precision::FP32) << capped;
  const std::vector<Precision> runnable = runnable_precisions("cpu", "alexnet");
  EXPECT_EQ(std::count(runnable.begin(), runnable.end(), Precision::INT8), int8_runs_here() ? 1 : 0);
  const std::vector<Precision> squeeze = runnable_precisions("cpu", "squeezenet1_1");
  EXPECT_EQ(std::count(squeeze.begin(), squeeze.end(), Precision::INT8), 0);
}

// Calibrated in int8: the ranges are measured (one per ReLU output), the threshold is int8's own,
// both survive the model file, and the Detector scores in int8 when asked or when auto picks it.
TEST(Int8Backbone, CalibrationMeasuresRangesAndGivesAThreshold) {
  if (!int8_runs_here()) GTEST_SKIP() << "this LibTorch has no quantized engine";
  Model m = alexnet_model();
  ArithmeticCalibrationOptions o;
  o.arithmetics = {"int8/fp32"};
  const Calibration c = calibrate_arithmetics(m, good_images(4, 128), "cpu", o);
  ASSERT_EQ(c.int8_activation_max.size(), 5u);
  for (double r : c.int8_activation_max) EXPECT_TRUE(std::isfinite(r) && r > 0) << r;
  ASSERT_EQ(c.arithmetics.count("int8/fp32"), 1u);
  const GoodScoreThreshold& t = c.arithmetics.at("int8/fp32");
  EXPECT_EQ(t.good_count, c.good_count);
  EXPECT_TRUE(std::isfinite(t.threshold) && t.threshold > 0 && t.threshold <= t.good_max);

  m.calibration = c;
  const std::string path = fixtures::temp_dir() + "/alex-int8.model";
  save_model(m, path);
  const Model back = load_model(path);
  EXPECT_EQ(back.calibration.int8_activation_max, c.int8_activation_max);
  Detector d(DetectorOptions{path, "cpu", 1, "int8", "fp32"});
  EXPECT_EQ(d.summary().precision, "int8");
  EXPECT_EQ(d.summary().threshold_arithmetic, "int8/fp32");
  EXPECT_DOUBLE_EQ(d.summary().threshold, t.threshold);
  const Image frame = fixtures::make_texture(96, 96, 950);
  const Detection r = d.detect(frame.view(), DetectRequest{});
  EXPECT_TRUE(std::isfinite(r.score) && r.score > 0) << r.score;

  // Without an int8/int8 threshold, auto on a VNNI CPU keeps the int8 backbone with the fp32 flow
  // (the flow gives up its choice first).
  Detector a(DetectorOptions{path, "cpu", 1});
  const AutoPrecision wanted = auto_precision("cpu", "alexnet");
  if (wanted.backbone == Precision::INT8) EXPECT_EQ(a.summary().threshold_arithmetic, "int8/fp32");
}

// The ranges in the calibration's JSON: kept, absent in older files, refused when not positive.
TEST(Int8Backbone, RangesRoundTripAndAreValidated) {
  Calibration c{true, 2.0, 1, "test", 2, 1.0, 0.1, 2.1};
  c.int8_activation_max = {1.5, 2.5, 3.5, 4.5, 5.5};
  EXPECT_EQ(Calibration::from_json(c.to_json()).int8_activation_max, c.int8_activation_max);
  const Calibration old{true, 2.0, 1, "test", 2, 1.0, 0.1, 2.1};
  EXPECT_EQ(old.to_json().find("int8"), std::string::npos);
  EXPECT_TRUE(Calibration::from_json(old.to_json()).int8_activation_max.empty());
  c.int8_activation_max[2] = -1;
  EXPECT_THROW(Calibration::from_json(c.to_json()), Error);
  c.int8_activation_max[2] = NAN;
  EXPECT_THROW(c.validate(), Error);
}
