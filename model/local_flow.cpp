#include "local_flow.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "backbone.h"
#include "error.h"
#include "flow.h"
#include "permutation.h"

namespace differnet {

namespace {
std::string prefix(int slot, int block) {
  return "local.flow.scale" + std::to_string(slot) + ".block" + std::to_string(block) + ".";
}
at::Tensor memory_format(const at::Tensor& w) {
  return Backbone::channels_last() && w.dim() == 4 ? w.contiguous(at::MemoryFormat::ChannelsLast) : w.contiguous();
}
}  // namespace

LocalFlow::LocalFlow(const LocalConfig& config)
    : dim_(config.dim), len1_(config.dim / 2), len2_(config.dim - config.dim / 2), hidden_(config.flow_hidden) {
  if (config.flow_blocks <= 0) return;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config.projection_seed) + 1000);
  // nn.Conv2d's default: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * 3 * 3.
  auto drawn = [&](int in, int out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in) * 9.0);
    Conv c;
    c.weight = at::empty({out, in, 3, 3}, at::kFloat).uniform_(-bound, bound, gen);
    c.bias = at::empty({out}, at::kFloat).uniform_(-bound, bound, gen);
    return c;
  };
  auto zero = [&](int in, int out) { return Conv{at::zeros({out, in, 3, 3}, at::kFloat), at::zeros({out}, at::kFloat)}; };
  for (size_t k = 0; k < config.scales.size(); ++k) {
    std::vector<Block> blocks;
    for (int b = 0; b < config.flow_blocks; ++b) {
      Block blk;
      // (unsigned arithmetic: any seed wraps instead of overflowing)
      const uint32_t seed = static_cast<uint32_t>(config.projection_seed) * 100u + static_cast<uint32_t>(k) * 10u + static_cast<uint32_t>(b);
      blk.perm = at::tensor(numpy_legacy_permutation(seed, dim_), at::kLong);
      blk.s1a = drawn(len1_, hidden_);
      blk.s1b = zero(hidden_, 2 * len2_);
      blk.s2a = drawn(len2_, hidden_);
      blk.s2b = zero(hidden_, 2 * len1_);
      blocks.push_back(std::move(blk));
    }
    slots_.push_back(std::move(blocks));
  }
  to(at::kCPU);
}

at::Tensor LocalFlow::subnet(const Conv& a, const Conv& b, const at::Tensor& x) const {
  at::Tensor h = at::relu(at::conv2d(x, a.weight, a.bias, {1, 1}, {1, 1}));
  return at::conv2d(h, b.weight, b.bias, {1, 1}, {1, 1});
}

LocalFlowOutput LocalFlow::forward(int slot, const at::Tensor& x) const {
  if (!enabled()) throw Error("this model has no local flow");
  if (x.dim() != 4 || x.size(1) != dim_)
    throw Error("the local flow takes [N," + std::to_string(dim_) + ",h,w] cells");
  at::Tensor h = x.to(at::kFloat);
  if (Backbone::channels_last()) h = h.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor logdet = at::zeros({x.size(0), x.size(2), x.size(3)}, h.options());
  for (const Block& b : slots_.at(static_cast<size_t>(slot))) {
    h = h.index_select(1, b.perm);
    const at::Tensor x1 = h.narrow(1, 0, len1_), x2 = h.narrow(1, len1_, len2_);
    const at::Tensor r2 = subnet(b.s2a, b.s2b, x2);
    const at::Tensor c2 = Flow::soft_clamp(r2.narrow(1, 0, len1_), alpha_);
    const at::Tensor y1 = at::exp(c2) * x1 + r2.narrow(1, len1_, len1_);
    const at::Tensor r1 = subnet(b.s1a, b.s1b, y1);
    const at::Tensor c1 = Flow::soft_clamp(r1.narrow(1, 0, len2_), alpha_);
    const at::Tensor y2 = at::exp(c1) * x2 + r1.narrow(1, len2_, len2_);
    logdet = logdet + c2.sum(1) + c1.sum(1);
    h = at::cat({y1, y2}, 1);
    if (Backbone::channels_last()) h = h.contiguous(at::MemoryFormat::ChannelsLast);
  }
  return {h, logdet};
}

at::Tensor LocalFlow::nll_per_dim(const LocalFlowOutput& out) {
  return (0.5 * out.z.pow(2).sum(1) - out.logdet) / static_cast<double>(out.z.size(1));
}

at::Tensor LocalFlow::cell_scores(int slot, const at::Tensor& cells) const {
  const LocalFlowOutput out = forward(slot, cells.permute({0, 3, 1, 2}));
  return 2.0 * nll_per_dim(out);
}

std::vector<std::pair<std::string, at::Tensor*>> LocalFlow::named_slots() {
  std::vector<std::pair<std::string, at::Tensor*>> out;
  for (size_t k = 0; k < slots_.size(); ++k)
    for (size_t b = 0; b < slots_[k].size(); ++b) {
      Block& blk = slots_[k][b];
      const std::string p = prefix(static_cast<int>(k), static_cast<int>(b));
      for (auto [name, conv] : {std::pair<const char*, Conv*>{"subnet1.conv1", &blk.s1a}, {"subnet1.conv2", &blk.s1b},
                                {"subnet2.conv1", &blk.s2a}, {"subnet2.conv2", &blk.s2b}}) {
        out.emplace_back(p + name + ".weight", &conv->weight);
        out.emplace_back(p + name + ".bias", &conv->bias);
      }
    }
  return out;
}

std::vector<std::pair<std::string, const at::Tensor*>> LocalFlow::named_slots() const {
  std::vector<std::pair<std::string, const at::Tensor*>> out;
  for (auto& [name, t] : const_cast<LocalFlow*>(this)->named_slots()) out.emplace_back(name, t);
  return out;
}

std::vector<at::Tensor> LocalFlow::parameters(int slot) const {
  std::vector<at::Tensor> out;
  for (const Block& b : slots_.at(static_cast<size_t>(slot)))
    for (const Conv* c : {&b.s1a, &b.s1b, &b.s2a, &b.s2b}) {
      out.push_back(c->weight);
      out.push_back(c->bias);
    }
  return out;
}

TensorMap LocalFlow::named_tensors() const {
  TensorMap out;
  for (const auto& [name, t] : named_slots()) out[name] = t->contiguous();
  return out;
}

void LocalFlow::load(const TensorMap& tensors) {
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& [name, t] : named_slots()) expected[name] = t->sizes().vec();
  check_shapes(tensors, expected, "the local flow");
  const at::Device device = slots_.empty() ? at::Device(at::kCPU) : slots_[0][0].s1a.weight.device();
  for (auto& [name, t] : named_slots()) *t = tensors.at(name).to(at::kFloat).to(device);
  to(device);
}

void LocalFlow::to(const at::Device& device) {
  for (auto& blocks : slots_)
    for (Block& b : blocks) {
      b.perm = b.perm.to(device);
      for (Conv* c : {&b.s1a, &b.s1b, &b.s2a, &b.s2b}) {
        const bool grad = c->weight.requires_grad();
        c->weight = memory_format(c->weight.detach().to(device)).set_requires_grad(grad);
        c->bias = c->bias.detach().to(device).contiguous().set_requires_grad(grad);
      }
    }
}

void LocalFlow::set_requires_grad(bool on) {
  for (auto& blocks : slots_)
    for (Block& b : blocks)
      for (Conv* c : {&b.s1a, &b.s1b, &b.s2a, &b.s2b}) {
        c->weight.set_requires_grad(on);
        c->bias.set_requires_grad(on);
      }
}

}  // namespace differnet
