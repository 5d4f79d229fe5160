// The normalizing flow f_NF: `blocks` x [fixed permutation, affine coupling block] on D-dim vectors.
// Each coupling block (FrEIA's glow_coupling_layer, two sub-steps):
//   (a2,t2) = S2(x2); y1 = exp(c(a2)) * x1 + t2;   (a1,t1) = S1(y1); y2 = exp(c(a1)) * x2 + t1
// with c(a) = alpha * 0.636 * atan(a / alpha) and S1, S2 fully connected subnets (ReLU between
// layers). The log-determinant is the sum of c(.) and comes out of the same pass.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "device_name.h"
#include "tensor_io.h"

namespace differnet {

struct FlowOutput {
  at::Tensor z;       // [N,D]
  at::Tensor logdet;  // [N]
};

class Flow {
 public:
  // Allocates the parameters with PyTorch's nn.Linear initialisation drawn from `seed`, or
  // uninitialised when there is no seed (the caller loads weights next).
  Flow(const FlowConfig& config, int dim, std::optional<uint64_t> seed);

  FlowOutput forward(const at::Tensor& x) const;
  at::Tensor inverse(const at::Tensor& z) const;

  std::vector<at::Tensor> parameters() const;   // in a fixed order, for the optimiser
  TensorMap named_tensors() const;              // "flow.block{k}.subnet{1,2}.fc{j}.{weight,bias}"
  void load(const TensorMap& tensors);          // throws Error on a missing or misshapen tensor
  void to(const at::Device& device);
  // For scoring: the linear layers' arithmetic (device_name.h). bf16 keeps bfloat16 copies of the
  // weights, int8 packed quantized copies (CPU only: Error elsewhere, or without a quantized engine);
  // the fp32 weights stay (training, the gradient pass of int8). Call after to().
  void set_inference_precision(FlowPrecision precision);
  FlowPrecision inference_precision() const { return precision_; }
  void set_requires_grad(bool on);
  int dim() const { return dim_; }
  const FlowConfig& config() const { return config_; }

  static std::map<std::string, std::vector<int64_t>> expected_shapes(const FlowConfig& config, int dim);
  // The soft clamp with the authors' literal 0.636 (not 2/pi).
  static at::Tensor soft_clamp(const at::Tensor& a, double alpha);

 private:
  struct PackedLinear;  // int8 weights, packed for the quantized engine (flow.cpp)
  struct Linear {
    at::Tensor weight, bias;
    at::Tensor weight_bf16, bias_bf16;      // FlowPrecision::BF16
    std::shared_ptr<PackedLinear> packed;   // FlowPrecision::INT8
  };
  using Subnet = std::vector<Linear>;
  struct Block {
    at::Tensor perm, inverse_perm;  // long [D]
    Subnet s1, s2;                  // s1: len1 -> 2*len2 (acts on y1), s2: len2 -> 2*len1 (acts on x2)
  };
  at::Tensor run(const Subnet& net, const at::Tensor& x) const;
  std::vector<std::pair<std::string, at::Tensor*>> named_slots();

  FlowConfig config_;
  int dim_, len1_, len2_;
  FlowPrecision precision_ = FlowPrecision::FP32;
  std::vector<Block> blocks_;
};

}  // namespace differnet
