// Parity with PyTorch: tests/parity/make_reference.py computes every stage with torch 1.13, torchvision
// and scipy (generated at build time into the build folder); the C++ side must match, stage by stage,
// within the tolerance stated at each check. Each check prints the measured error.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model.h"
#include "preprocess.h"
#include "safetensors.h"
#include "scoring.h"
#include "test_support.h"
#include "trainer.h"

using namespace differnet;

namespace {

class Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fixtures::build_dir() + "/tests";  // where the parity-reference target writes
    if (!std::ifstream(dir_ + "/reference.safetensors")) return;
    SafetensorsFile f = read_safetensors(dir_ + "/reference.safetensors");
    for (auto& [name, t] : f.tensors) ref_[name] = from_stored(t);
    angles_ = nlohmann::json::parse(f.metadata.at("angles")).get<std::vector<double>>();
    T_ = std::stoi(f.metadata.at("T"));
  }
  void SetUp() override {
    if (ref_.empty())
      GTEST_SKIP() << "no PyTorch reference in " << dir_ << " (python3-torch, torchvision, scipy missing at configure time)";
  }
  // Max |a - b| divided by max(1, max |b|): relative to the reference's scale.
  static double scaled_error(const at::Tensor& a, const at::Tensor& b) {
    return (a - b).abs().max().item<double>() / std::max(1.0, b.abs().max().item<double>());
  }
  static at::Tensor resized() {  // the C++ preprocessing of the reference image
    at::Tensor hwc = ref_.at("image").to(at::kByte).contiguous();
    FrameView f{hwc.data_ptr<uint8_t>(), static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)),
                static_cast<int>(hwc.size(1) * 3), PixelFormat::RGB};
    return resize_antialiased(frame_to_rgb(f, Region{}), 448);
  }
  static void report(const char* stage, double err, double tol) {
    std::printf("parity %-28s error %.3e (tolerance %.0e)\n", stage, err, tol);
    EXPECT_LE(err, tol) << stage;
  }
  static inline std::string dir_;
  static inline TensorMap ref_;
  static inline std::vector<double> angles_;
  static inline int T_ = 0;
};

}  // namespace

// Resize: the same arithmetic as torch's antialiased interpolate -> exact; against PIL itself,
// at most one 8-bit level on at most 2 % of pixels (PIL's fixed-point filter coefficients).
TEST_F(Parity, Resize) {
  at::Tensor r = resized()[0];
  report("resize vs torch (levels)", (r - ref_.at("resized")).abs().max().item<double>(), 1e-4);
  at::Tensor d = (r - ref_.at("resized_pil")).abs();
  const double frac = (d > 0).to(at::kDouble).mean().item<double>();
  std::printf("parity resize vs PIL: max %.0f level, %.3f %% of values differ\n", d.max().item<double>(), 100 * frac);
  EXPECT_LE(d.max().item<double>(), 1.0);
  EXPECT_LE(frac, 0.02);
}

// Rotation (nearest, black fill): exact against the reference's PIL-convention sampler; against
// PIL's own 16.16 fixed-point rotate, at least 99.5 % of values identical.
TEST_F(Parity, RotationAndNormalisation) {
  at::Tensor levels = ref_.at("resized").unsqueeze(0);
  at::Tensor rot = rotate_nearest(levels, angles_);
  report("rotation vs reference", (rot - ref_.at("rotated")).abs().max().item<double>(), 1e-4);
  const double same = (rot == ref_.at("rotated_pil")).to(at::kDouble).mean().item<double>();
  std::printf("parity rotation vs PIL: %.3f %% identical\n", 100 * same);
  EXPECT_GE(same, 0.995);
  report("normalised copies", scaled_error(make_copies(levels, angles_, ModelConfig{}), ref_.at("copies")), 1e-5);
}

// Extractor (3 scales, nearest subsampling, average pool): same arithmetic -> 1e-4 of scale.
TEST_F(Parity, Extractor) {
  at::NoGradGuard no_grad;
  at::Tensor copies = ref_.at("copies");
  Extractor sq(Backbone::load("squeezenet1_1"), ModelConfig{});
  at::Tensor fs = sq.features(copies);
  EXPECT_EQ(fs.size(1), 1536);
  report("features squeezenet (D=1536)", scaled_error(fs, ref_.at("features_squeezenet")), 1e-4);
  ModelConfig alex_config;
  alex_config.backbone = "alexnet";
  alex_config.trunk_channels = 256;
  Extractor ax(Backbone::load(dir_ + "/alexnet.safetensors"), alex_config);
  at::Tensor fa = ax.features(copies);
  EXPECT_EQ(fa.size(1), 768);
  report("features alexnet (D=768)", scaled_error(fa, ref_.at("features_alexnet")), 1e-4);
}

// Flow forward, log-det and loss on the reference features, from a model file written in Python.
TEST_F(Parity, FlowAndLoss) {
  Model model = load_model(dir_ + "/model.safetensors");
  at::NoGradGuard no_grad;
  FlowOutput out = model.flow.forward(ref_.at("features_squeezenet"));
  report("flow z", scaled_error(out.z, ref_.at("flow_z")), 1e-4);
  report("flow log-det", scaled_error(out.logdet, ref_.at("flow_logdet")), 1e-4);
  report("loss", std::abs(nll_loss(out).item<double>() - ref_.at("loss").item<double>()), 1e-4);
}

// Score (T fixed rotations) and localization map: same arithmetic up to scipy's double-precision
// smoothing -> 1e-4 of scale. The authors rotate back with cubic splines; our bilinear map must
// still correlate above 0.98 with theirs.
TEST_F(Parity, ScoreAndLocalization) {
  Model model = load_model(dir_ + "/model.safetensors");
  const auto angles = test_time_angles(T_);
  at::Tensor copies = make_copies(ref_.at("resized").unsqueeze(0), angles, model.config);
  ScoreResult r = score_copies(model, copies, angles, true);
  report("score", std::abs(r.score - ref_.at("score").item<double>()) / ref_.at("score").item<double>(), 1e-4);
  at::Tensor expected = ref_.at("map");
  // The map is a gradient: the backward pass repeats the forward pass's sums in series (the tiny
  // model's count, test_support.h, plus the 27 x 27 average of the 448-px scale), and squaring it
  // doubles the relative error. PyTorch's reference ran on this CPU's own kernels; the map must hold
  // against it when LibTorch is capped to another CPU's (scripts/test-dispatch-levels.sh).
  const double map_tol = fixtures::float32_tolerance(2 * (fixtures::tiny_model_summed_terms(64) + 27 * 27), 2.0);
  report("localization map", (r.map - expected).abs().max().item<double>() / expected.abs().max().item<double>(), map_tol);
  at::Tensor a = r.map.flatten(), b = ref_.at("map_authors").flatten();
  const double corr = at::corrcoef(at::stack({a, b})).index({0, 1}).item<double>();
  std::printf("parity localization vs authors' cubic rotation: correlation %.4f\n", corr);
  EXPECT_GT(corr, 0.98);
}

// Five Adam steps (lr 2e-4, betas 0.8/0.8, eps 1e-4, coupled weight decay 1e-5) from the same start.
TEST_F(Parity, FiveAdamSteps) {
  Model model = load_model(dir_ + "/model.safetensors");
  model.flow.set_requires_grad(true);
  Adam adam(model.flow.parameters(), 2e-4, 0.8, 0.8, 1e-4, 1e-5);
  at::Tensor batch = ref_.at("adam_batch");
  at::Tensor expected_losses = ref_.at("adam_losses");
  double loss_err = 0;
  for (int i = 0; i < 5; ++i) {
    at::Tensor loss = nll_loss(model.flow.forward(batch));
    loss_err = std::max(loss_err, std::abs(loss.item<double>() - expected_losses[i].item<double>()));
    loss.backward();
    adam.step();
  }
  report("loss over 5 Adam steps", loss_err, 1e-4);
  double weight_err = 0;
  for (const auto& [name, t] : model.flow.named_tensors())
    weight_err = std::max(weight_err, (t.detach() - ref_.at("adam5." + name)).abs().max().item<double>());
  report("weights after 5 Adam steps", weight_err, 1e-5);
}
