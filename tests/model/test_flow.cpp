// Properties of the normalizing flow that need no reference: invertibility, the log-determinant
// against autograd, the clamp bound, and what the score and the loss contain.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "error.h"
#include "flow.h"
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
