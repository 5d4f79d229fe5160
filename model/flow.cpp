#include "flow.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include <algorithm>
#include <cmath>

#include "error.h"
#include "permutation.h"
#include "runtime.h"

namespace differnet {

namespace {
constexpr double kClampConstant = 0.636;  // the authors' code, not 2/pi
constexpr double kOutputBound = 1e6;      // the hard clamp after each block: a safety net
}  // namespace

Flow::Flow(const FlowConfig& config, int dim, std::optional<uint64_t> seed)
    : config_(config), dim_(dim), len1_(dim / 2), len2_(dim - dim / 2) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed.value_or(0));
  // nn.Linear default: kaiming_uniform(a=sqrt(5)) weights and bias, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  auto linear = [&](int in, int out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    Linear l;
    l.weight = at::empty({out, in}, at::kFloat);
    l.bias = at::empty({out}, at::kFloat);
    if (seed) {
      l.weight.uniform_(-bound, bound, gen);
      l.bias.uniform_(-bound, bound, gen);
    }
    return l;
  };
  auto subnet = [&](int in, int out) {
    Subnet net;
    int width = in;
    for (int h = 0; h < config.hidden_layers; ++h) {
      net.push_back(linear(width, config.width));
      width = config.width;
    }
    net.push_back(linear(width, out));
    return net;
  };
  for (int k = 0; k < config.blocks; ++k) {
    Block b;
    std::vector<int64_t> perm = numpy_legacy_permutation(static_cast<uint32_t>(config.permutation_seeds.at(k)), dim);
    b.perm = at::tensor(perm, at::kLong);
    b.inverse_perm = at::argsort(b.perm);
    b.s1 = subnet(len1_, 2 * len2_);
    b.s2 = subnet(len2_, 2 * len1_);
    blocks_.push_back(std::move(b));
  }
}

at::Tensor Flow::soft_clamp(const at::Tensor& a, double alpha) { return (alpha * kClampConstant) * at::atan(a / alpha); }

struct Flow::PackedLinear {
  c10::intrusive_ptr<LinearPackedParamsBase> params;
  // Inputs quantized to 7 bits where oneDNN may multiply without VNNI (CpuArithmetic::int8_full_range):
  // its 8-bit instruction there (vpmaddubsw) adds pairs of u8 x s8 products in 16 bits and saturates
  // (2 x 255 x 127 > 32767).
  bool reduce_range = false;
};

at::Tensor Flow::run(const Subnet& net, const at::Tensor& x) const {
  if (precision_ == FlowPrecision::INT8 && !at::GradMode::is_enabled()) {
    at::Tensor h = x.contiguous();
    for (size_t i = 0; i < net.size(); ++i) {
      h = net[i].packed->params->apply_dynamic(h, net[i].packed->reduce_range);
      if (i + 1 < net.size()) h = at::relu(h);
    }
    return h;
  }
  if (precision_ == FlowPrecision::BF16) {
    at::Tensor h = x.to(at::kBFloat16);
    for (size_t i = 0; i < net.size(); ++i) {
      h = at::linear(h, net[i].weight_bf16, net[i].bias_bf16);
      if (i + 1 < net.size()) h = at::relu(h);
    }
    return h.to(at::kFloat);
  }
  at::Tensor h = x;
  for (size_t i = 0; i < net.size(); ++i) {
    h = at::linear(h, net[i].weight, net[i].bias);
    if (i + 1 < net.size()) h = at::relu(h);
  }
  return h;
}

FlowOutput Flow::forward(const at::Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != dim_) throw Error("flow input must be [N," + std::to_string(dim_) + "]");
  const double alpha = config_.clamp_alpha;
  at::Tensor h = x;
  at::Tensor logdet = at::zeros({x.size(0)}, x.options());
  for (const Block& b : blocks_) {
    h = h.index_select(1, b.perm);
    at::Tensor x1 = h.narrow(1, 0, len1_), x2 = h.narrow(1, len1_, len2_);
    at::Tensor r2 = run(b.s2, x2);
    at::Tensor s2 = soft_clamp(r2.narrow(1, 0, len1_), alpha);
    at::Tensor y1 = at::exp(s2) * x1 + r2.narrow(1, len1_, len1_);
    at::Tensor r1 = run(b.s1, y1);
    at::Tensor s1 = soft_clamp(r1.narrow(1, 0, len2_), alpha);
    at::Tensor y2 = at::exp(s1) * x2 + r1.narrow(1, len2_, len2_);
    logdet = logdet + s1.sum(1) + s2.sum(1);
    h = at::cat({y1, y2}, 1).clamp(-kOutputBound, kOutputBound);
  }
  return {h, logdet};
}

at::Tensor Flow::inverse(const at::Tensor& z) const {
  if (z.dim() != 2 || z.size(1) != dim_) throw Error("flow inverse input must be [N," + std::to_string(dim_) + "]");
  const double alpha = config_.clamp_alpha;
  at::Tensor h = z;
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
    const Block& b = *it;
    at::Tensor y1 = h.narrow(1, 0, len1_), y2 = h.narrow(1, len1_, len2_);
    at::Tensor r1 = run(b.s1, y1);
    at::Tensor x2 = (y2 - r1.narrow(1, len2_, len2_)) * at::exp(-soft_clamp(r1.narrow(1, 0, len2_), alpha));
    at::Tensor r2 = run(b.s2, x2);
    at::Tensor x1 = (y1 - r2.narrow(1, len1_, len1_)) * at::exp(-soft_clamp(r2.narrow(1, 0, len1_), alpha));
    h = at::cat({x1, x2}, 1).index_select(1, b.inverse_perm);
  }
  return h;
}

std::vector<std::pair<std::string, at::Tensor*>> Flow::named_slots() {
  std::vector<std::pair<std::string, at::Tensor*>> out;
  for (size_t k = 0; k < blocks_.size(); ++k)
    for (int s = 1; s <= 2; ++s) {
      Subnet& net = s == 1 ? blocks_[k].s1 : blocks_[k].s2;
      for (size_t j = 0; j < net.size(); ++j) {
        const std::string p = "flow.block" + std::to_string(k) + ".subnet" + std::to_string(s) + ".fc" + std::to_string(j);
        out.emplace_back(p + ".weight", &net[j].weight);
        out.emplace_back(p + ".bias", &net[j].bias);
      }
    }
  return out;
}

std::vector<at::Tensor> Flow::parameters() const {
  std::vector<at::Tensor> out;
  for (auto& [name, slot] : const_cast<Flow*>(this)->named_slots()) out.push_back(*slot);
  return out;
}

TensorMap Flow::named_tensors() const {
  TensorMap out;
  for (auto& [name, slot] : const_cast<Flow*>(this)->named_slots()) out[name] = *slot;
  return out;
}

std::map<std::string, std::vector<int64_t>> Flow::expected_shapes(const FlowConfig& config, int dim) {
  const int64_t len1 = dim / 2, len2 = dim - dim / 2;
  std::map<std::string, std::vector<int64_t>> out;
  for (int k = 0; k < config.blocks; ++k)
    for (int s = 1; s <= 2; ++s) {
      int64_t in = s == 1 ? len1 : len2;
      const int64_t last_out = s == 1 ? 2 * len2 : 2 * len1;
      for (int j = 0; j <= config.hidden_layers; ++j) {
        const int64_t o = j == config.hidden_layers ? last_out : config.width;
        const std::string p = "flow.block" + std::to_string(k) + ".subnet" + std::to_string(s) + ".fc" + std::to_string(j);
        out[p + ".weight"] = {o, in};
        out[p + ".bias"] = {o};
        in = o;
      }
    }
  return out;
}

void Flow::load(const TensorMap& tensors) {
  TensorMap mine;
  for (const auto& [name, t] : tensors)
    if (name.rfind("flow.", 0) == 0) mine[name] = t;
  check_shapes(mine, expected_shapes(config_, dim_), "flow");
  for (auto& [name, slot] : named_slots()) *slot = mine.at(name).detach().to(slot->device()).clone();
}

void Flow::to(const at::Device& device) {
  for (auto& [name, slot] : named_slots()) *slot = slot->detach().to(device);
  for (Block& b : blocks_) {
    b.perm = b.perm.to(device);
    b.inverse_perm = b.inverse_perm.to(device);
  }
}

void Flow::set_inference_precision(FlowPrecision precision) {
  const bool cpu = dim_ == 0 || blocks_.empty() || blocks_[0].s1[0].weight.device().is_cpu();
  if (precision == FlowPrecision::BF16 && cpu && !cpu_runs_bf16_convolutions())
    throw Error("flow precision bf16: this CPU's kernels have no bf16 matrix products (oneDNN runs them from "
                "AVX-512 on, or ONEDNN_MAX_CPU_ISA caps it below); use fp32 or int8");
  if (precision == FlowPrecision::INT8) {
    if (!cpu) throw Error("flow precision int8 runs on the CPU only (use bf16 on a GPU)");
    if (!select_quantized_engine()) throw Error("flow precision int8 needs a quantized engine (FBGEMM, oneDNN or QNNPACK) this LibTorch lacks");
  }
  // Looked up only for int8: a LibTorch without quantized operators still runs fp32 and bf16.
  auto prepack = [](const at::Tensor& q, const at::Tensor& bias) {
    static const auto op = c10::Dispatcher::singleton()
                               .findSchemaOrThrow("quantized::linear_prepack", "")
                               .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
    return op.call(q, bias);
  };
  const bool reduce_range = precision == FlowPrecision::INT8 && !cpu_arithmetic().int8_full_range;
  for (Block& b : blocks_)
    for (Subnet* net : {&b.s1, &b.s2})
      for (Linear& l : *net) {
        l.weight_bf16 = l.bias_bf16 = at::Tensor();
        l.packed.reset();
        if (precision == FlowPrecision::BF16) {
          l.weight_bf16 = l.weight.detach().to(at::kBFloat16);
          l.bias_bf16 = l.bias.detach().to(at::kBFloat16);
        } else if (precision == FlowPrecision::INT8) {
          // Symmetric per output channel: scale = max |w| / 127, zero point 0.
          const at::Tensor w = l.weight.detach().contiguous();
          const at::Tensor scales = (w.abs().amax(1).to(at::kDouble) / 127.0).clamp_min(1e-12);
          const at::Tensor zeros = at::zeros({w.size(0)}, at::kLong);
          const at::Tensor q = at::quantize_per_channel(w, scales, zeros, 0, at::kQInt8);
          l.packed = std::make_shared<PackedLinear>(PackedLinear{prepack(q, l.bias.detach().contiguous()), reduce_range});
        }
      }
  precision_ = precision;
}

void Flow::set_requires_grad(bool on) {
  for (auto& [name, slot] : named_slots()) slot->set_requires_grad(on);
}

}  // namespace differnet

