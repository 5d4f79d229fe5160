// The local flow: a fully convolutional normalizing flow over the local scorer's whitened cell maps
// (local_scorer.h), the method's coupling blocks with convolutional subnets (as CS-Flow, the
// authors' fully convolutional successor of DifferNet), one flow per scale slot.
//
// Its input is what the local scorer's Gaussian leaves: each cell whitened by that Gaussian (mean 0,
// identity covariance over the good cells). Each block permutes the channels (a fixed numpy
// permutation, as the pooled flow's) and applies the glow coupling of flow.h,
//   (a2,t2) = S2(x2); y1 = exp(c(a2)) * x1 + t2;   (a1,t1) = S1(y1); y2 = exp(c(a1)) * x2 + t1,
// where S1 and S2 are 3 x 3 convolution, ReLU, 3 x 3 convolution (zero padding): a cell's transform
// depends on its 5 x 5 neighbourhood of cells per block, so the flow models how a cell goes with its
// surroundings, which a Gaussian per cell cannot. The subnets' last convolutions start at zero: the
// untrained flow is the identity and scores exactly as the Gaussian.
//
// A cell's score is twice its negative log-likelihood per dimension, without the constant:
//   mean_c z_c^2 - 2 (sum of the cell's c(.) terms) / dim,
// the Gaussian's score (mean of squares) where the flow is the identity; about 1 for good cells.
//
// Stored as "local.flow.scale{k}.block{b}.subnet{1,2}.conv{1,2}.{weight,bias}".
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "config.h"
#include "tensor_io.h"

namespace differnet {

struct LocalFlowOutput {
  at::Tensor z;       // [N,dim,h,w]
  at::Tensor logdet;  // [N,h,w]: each cell's share of log|det J| (its c(.) terms)
};

class LocalFlow {
 public:
  LocalFlow() = default;  // none (config.local.flow_blocks == 0)
  // One flow per local slot; the first convolutions drawn as PyTorch's nn.Conv2d from `seed`
  // (config.local.projection_seed), the last ones zero.
  explicit LocalFlow(const LocalConfig& config);

  bool enabled() const { return !slots_.empty(); }
  int slots() const { return static_cast<int>(slots_.size()); }

  // x: whitened cells [N,dim,h,w] float (any memory layout).
  LocalFlowOutput forward(int slot, const at::Tensor& x) const;
  // Whitened cells [N,h,w,dim] (LocalScorer::cells of a fitted scorer) -> per-cell scores [N,h,w].
  at::Tensor cell_scores(int slot, const at::Tensor& cells) const;
  // The training objective per cell and dimension: 0.5 z^2 - c(.) terms, averaged.
  static at::Tensor nll_per_dim(const LocalFlowOutput& out);

  std::vector<at::Tensor> parameters(int slot) const;
  TensorMap named_tensors() const;
  // Reads the tensors of named_tensors() (shapes checked): throws Error on a missing or misshapen one.
  void load(const TensorMap& tensors);
  void to(const at::Device& device);
  void set_requires_grad(bool on);

 private:
  struct Conv {
    at::Tensor weight, bias;
  };
  struct Block {
    at::Tensor perm;       // long [dim]
    Conv s1a, s1b, s2a, s2b;  // s1: len1 -> hidden -> 2*len2 (acts on y1); s2: len2 -> hidden -> 2*len1 (on x2)
  };
  at::Tensor subnet(const Conv& a, const Conv& b, const at::Tensor& x) const;
  std::vector<std::pair<std::string, at::Tensor*>> named_slots();
  std::vector<std::pair<std::string, const at::Tensor*>> named_slots() const;

  int dim_ = 0, len1_ = 0, len2_ = 0, hidden_ = 0;
  double alpha_ = 3.0;
  std::vector<std::vector<Block>> slots_;
};

}  // namespace differnet
