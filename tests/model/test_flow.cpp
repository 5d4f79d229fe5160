// Properties of the normalizing flow that need no reference: invertibility, the log-determinant
// against autograd, the clamp bound, and what the score and the loss contain.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "error.h"
#include "flow.h"
#include "runtime.h"
#include "scoring.h"

using namespace differnet;

namespace {
FlowConfig small_flow(int width = 16) {
  FlowConfig c;
  c.width = width;
  return c;
}
}  // namespace

// inverse(forward(x)) == x within 1e-4 (fp32), at the SqueezeNet dimension.
TEST(Flow, InverseUndoesForward) {
  Flow flow(small_flow(64), 1536, 11);
  at::NoGradGuard no_grad;
  at::Tensor x = at::randn({6, 1536}, at::make_generator<at::CPUGeneratorImpl>(2));
  at::Tensor back = flow.inverse(flow.forward(x).z);
  EXPECT_LT((back - x).abs().max().item<double>(), 1e-4);
}

// The one-pass log-det equals log|det J| of the whole flow, from autograd's Jacobian.
TEST(Flow, LogDetEqualsAutogradJacobian) {
  const int d = 10;
  Flow flow(small_flow(8), d, 5);
  at::Tensor x = at::randn({1, d}, at::make_generator<at::CPUGeneratorImpl>(4)).to(at::kDouble);
  flow.to(at::kCPU);
  // Double precision for a sharp comparison: run on double copies of the parameters.
  TensorMap params;
  for (auto& [name, t] : flow.named_tensors()) params[name] = t.to(at::kDouble);
  Flow flow64(small_flow(8), d, std::nullopt);
  flow64.load(params);
  at::Tensor input = x.clone().set_requires_grad(true);
  FlowOutput out = flow64.forward(input);
  at::Tensor jac = at::zeros({d, d}, at::kDouble);
  for (int i = 0; i < d; ++i)
    jac[i] = torch::autograd::grad({out.z[0][i]}, {input}, {}, /*retain_graph=*/true)[0][0];
  const double expected = std::log(std::abs(at::det(jac).item<double>()));
  EXPECT_NEAR(out.logdet.item<double>(), expected, 1e-6);
}

// |c(a)| < alpha * 0.636 * pi / 2 = 2.9971 for any a, however large.
TEST(Flow, SoftClampBound) {
  at::Tensor a = at::linspace(-1e6, 1e6, 10001, at::kDouble);
  at::Tensor c = Flow::soft_clamp(a, 3.0);
  EXPECT_LT(c.abs().max().item<double>(), 3.0 * 0.636 * M_PI / 2 + 1e-12);
  EXPECT_LT(c.abs().max().item<double>(), 2.9971);
  EXPECT_NEAR(Flow::soft_clamp(at::tensor({1.0}, at::kDouble), 3.0).item<double>(), 3 * 0.636 * std::atan(1.0 / 3), 1e-12);
}

// The loss is (0.5|z|^2 - logdet)/D averaged over the batch; the score is mean z^2, no log-det.
TEST(Flow, LossAndScoreDefinitions) {
  FlowOutput out{at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({2, 2}), at::tensor({0.5f, -1.0f})};
  // sample 0: (0.5*5 - 0.5)/2 = 1.0; sample 1: (0.5*25 + 1)/2 = 6.75 -> mean 3.875
  EXPECT_NEAR(nll_loss(out).item<double>(), 3.875, 1e-6);
  Model model = Model::create([] {
    ModelConfig c;
    c.input_size = 64;
    c.scales = {64};
    c.flow.width = 8;
    return c;
  }(), Backbone::load("squeezenet1_1"), 3);
  at::NoGradGuard no_grad;
  at::Tensor f = at::rand({4, 512});
  FlowOutput fo = model.flow.forward(f);
  EXPECT_NEAR(scores_from_features(model, f, 4).item<double>(), fo.z.pow(2).mean().item<double>(), 1e-6);
  EXPECT_GT(fo.logdet.abs().sum().item<double>(), 0.0);  // non-zero, and yet not part of the score
}

// Loading checks every tensor's presence and shape.
TEST(Flow, LoadRejectsWrongShapes) {
  Flow flow(small_flow(8), 12, 1);
  TensorMap t = flow.named_tensors();
  t["flow.block3.subnet1.fc0.weight"] = at::zeros({8, 7});
  Flow other(small_flow(8), 12, std::nullopt);
  EXPECT_THROW(other.load(t), Error);
  t.erase("flow.block3.subnet1.fc0.weight");
  EXPECT_THROW(other.load(t), Error);
}

// The int8 flow (dynamic quantization: each layer's input to 255 levels over [0, max], weights to 127
// per output channel) follows fp32 within a few per cent in the case where 8-bit multiplies can
// overflow: inputs and weights all positive and near their maxima, so that every pair of u8 x s8
// products is near 2 x 255 x 127. Without VNNI the multiply instruction adds such pairs in 16 bits
// and saturates at 32767, halving the sums; the flow then quantizes its inputs to 7 bits there.
// Each layer's quantization errs by at most about 1/255 + 1/254 of its output (2/255 + 1/254 with 7
// bits), on two layers per subnet and two subnets per block, compounding through two blocks: well
// under 5 % of z's norm, where saturation errs by tens of per cent. Run under each dispatch level
// (scripts/test-dispatch-levels.sh), this is what catches the overflow on CPUs without VNNI.
TEST(Flow, Int8FollowsFloatWhereEightBitProductsCouldSaturate) {
  if (!select_quantized_engine()) GTEST_SKIP() << "this LibTorch has no quantized engine";
  FlowConfig c = small_flow(64);
  c.blocks = 2;
  c.hidden_layers = 1;
  c.permutation_seeds = {0, 1};
  const int d = 256;
  Flow flow(c, d, 3);
  TensorMap w = flow.named_tensors();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  for (auto& [name, t] : w)
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
      t = (at::rand(t.sizes(), gen) * 0.2 + 0.8) * (0.05 / std::sqrt(static_cast<double>(t.size(1))));
  flow.load(w);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::rand({4, d}, gen) + 2.0;
  const at::Tensor fp32 = flow.forward(x).z;
  flow.set_inference_precision(FlowPrecision::INT8);
  const at::Tensor int8 = flow.forward(x).z;
  const double relative = ((int8 - fp32).norm() / fp32.norm()).item<double>();
  std::printf("int8 flow: z within %.3f %% of fp32 (norm)\n", 100 * relative);
  EXPECT_LT(relative, 0.05);
  EXPECT_GT(relative, 0.0);
}
