// The bundled backbones beside SqueezeNet: ResNet50-v2 stages 1-3 against PyTorch on the
// same weights (tests/fixtures/make_resnet50v2_golden.py: the original .npy files, unfolded batch
// norms), its layers, precision and use in a model; the architecture registry's errors.
#include <gtest/gtest.h>

#include "backbone.h"
#include "error.h"
#include "model.h"
#include "safetensors.h"
#include "runtime.h"
#include "test_support.h"

using namespace differnet;

namespace {
Backbone resnet() { return Backbone::load(fixtures::source_dir() + "/model/weights/resnet50v2.safetensors"); }
}  // namespace

// Every stage's map within 1e-4 of PyTorch's, relative to the map's largest value (the port folds
// batch norms into the convolutions; PyTorch applies them as stored).
TEST(ResNet50v2, StagesMatchPyTorch) {
  const Backbone b = resnet();
  EXPECT_EQ(b.architecture(), "resnet50v2");
  EXPECT_EQ(b.trunk_channels(), 1024);
  SafetensorsFile golden = read_safetensors(fixtures::source_dir() + "/tests/fixtures/resnet50v2_golden.safetensors");
  at::NoGradGuard no_grad;
  const at::Tensor input = from_stored(golden.tensors.at("input"));
  const auto maps = b.taps(input, {"stage1", "stage2", "stage3"});
  for (int s = 0; s < 3; ++s) {
    const at::Tensor expected = from_stored(golden.tensors.at("stage" + std::to_string(s + 1)));
    ASSERT_EQ(maps[s].sizes(), expected.sizes()) << "stage " << s + 1;
    const double err = (maps[s] - expected).abs().max().item<double>();
    const double scale = expected.abs().max().item<double>();
    std::printf("stage%d: max |error| %.2e of max |value| %.3f\n", s + 1, err, scale);
    EXPECT_LT(err, 1e-4 * scale) << "stage " << s + 1;
  }
}

// Layers, channels and map sizes: stage 3 is 1024 channels at 1/16 of the input side.
TEST(ResNet50v2, LayersAndShapes) {
  const Backbone b = resnet();
  EXPECT_EQ(Backbone::layer_names("resnet50v2"), (std::vector<std::string>{"stage1", "stage2", "stage3"}));
  EXPECT_EQ(b.layer_channels("stage1"), 256);
  EXPECT_EQ(b.layer_channels("stage2"), 512);
  EXPECT_EQ(b.layer_channels("last"), 1024);
  EXPECT_THROW(b.layer_channels("stage4"), Error);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::rand({1, 3, 112, 112});
  const auto maps = b.taps(x, {"stage3", "stage2"});
  EXPECT_EQ(maps[0].sizes().vec(), (std::vector<int64_t>{1, 1024, 7, 7}));
  EXPECT_EQ(maps[1].sizes().vec(), (std::vector<int64_t>{1, 512, 14, 14}));
  EXPECT_TRUE(at::equal(b.taps(x, {"stage2"})[0], maps[1]));  // stopping early changes nothing
}

// A model on ResNet stage 3 (3 scales: D = 3072) saves only the stored weights (no folded ones) and
// scores the same after loading; bf16 weights stay close to fp32.
TEST(ResNet50v2, ModelRoundTripAndBf16) {
  ModelConfig c = fixtures::tiny_config(16);
  c.backbone = "resnet50v2";
  c.trunk_channels = 1024;
  c.layers = {"stage3"};
  c.layer_channels = {1024};
  c.standardize = true;
  Model m = Model::create(c, resnet(), 3);
  EXPECT_EQ(m.config.feature_dim(), 1024 * static_cast<int>(c.scales.size()));
  const TensorMap stored = m.extractor.backbone().trunk_tensors();
  EXPECT_EQ(stored.size(), backbone_trunk_shapes("resnet50v2").size());
  for (const auto& [name, t] : stored) EXPECT_EQ(name.find("fused"), std::string::npos) << name;
  const std::string path = fixtures::temp_dir() + "/resnet.model";
  save_model(m, path);
  Model back = load_model(path);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::rand({2, 3, c.input_size, c.input_size});
  const at::Tensor f32 = m.extractor.raw_features(x);
  EXPECT_TRUE(at::allclose(back.extractor.raw_features(x), f32, 1e-5, 1e-6));
  if (!cpu_runs_bf16_convolutions()) {
    std::printf("bf16 part skipped: this CPU's kernels run no bf16 convolutions\n");
    return;
  }
  Backbone half = resnet();
  half.to(at::kCPU, at::kBFloat16);
  const at::Tensor bf = half.taps(x, {"stage3"})[0].mean({2, 3}).to(at::kFloat);
  const at::Tensor ref = resnet().taps(x, {"stage3"})[0].mean({2, 3});
  const double rel = ((bf - ref).norm() / ref.norm()).item<double>();
  std::printf("bf16 vs fp32 pooled stage3: relative error %.3g\n", rel);
  EXPECT_LT(rel, 0.05);
}

// The MobileNetV2 trunk against PyTorch on the original .npy files: blocks 3, 13, 16, 17, the head.
TEST(MobileNetV2, BlocksMatchPyTorch) {
  const Backbone b = Backbone::load(fixtures::source_dir() + "/model/weights/mobilenetv2.safetensors");
  EXPECT_EQ(b.architecture(), "mobilenetv2");
  EXPECT_EQ(b.trunk_channels(), 1280);
  EXPECT_EQ(b.layer_channels("block13"), 96);
  EXPECT_EQ(b.layer_channels("block16"), 160);
  EXPECT_EQ(Backbone::layer_names("mobilenetv2").size(), 18u);
  SafetensorsFile golden =
      read_safetensors(fixtures::source_dir() + "/tests/fixtures/mobilenetv2_golden.safetensors");
  at::NoGradGuard no_grad;
  const std::vector<std::string> layers = {"block3", "block13", "block16", "block17", "head"};
  const auto maps = b.taps(from_stored(golden.tensors.at("input")), layers);
  for (size_t i = 0; i < layers.size(); ++i) {
    const at::Tensor expected = from_stored(golden.tensors.at(layers[i]));
    ASSERT_EQ(maps[i].sizes(), expected.sizes()) << layers[i];
    const double err = (maps[i] - expected).abs().max().item<double>();
    const double scale = expected.abs().max().item<double>();
    std::printf("%s: max |error| %.2e of max |value| %.3f\n", layers[i].c_str(), err, scale);
    EXPECT_LT(err, 1e-4 * scale) << layers[i];
  }
  EXPECT_TRUE(at::equal(b.trunk(from_stored(golden.tensors.at("input"))), maps[4]));
}

// Random weights (for timing) give finite maps even through batch norms; unknown names are clear.
TEST(Backbones, RandomAndUnknown) {
  at::NoGradGuard no_grad;
  for (const auto& name : {"squeezenet1_1", "alexnet", "resnet50v2", "mobilenetv2"}) {
    const Backbone b = Backbone::random(name, 1);
    EXPECT_TRUE(at::isfinite(b.trunk(at::rand({1, 3, 224, 224}))).all().item<bool>()) << name;
  }
  try {
    Backbone::random("vgg16", 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resnet50v2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Backbone::known_architectures(), "squeezenet1_1, alexnet, resnet50v2, mobilenetv2");
}
