// The local scorer: an anomaly score for every cell of the backbone's un-pooled feature maps, in the
// same forward pass as the pooled score, so that the heatmap needs no backward pass.
//
// At each of the chosen scales, the maps of the configured layers (shallow to deep) are brought to one
// grid and concatenated per cell: grid "deepest" average-pools them to the deepest layer's grid and
// then averages each cell over its neighbourhood; grid "shallowest" (PatchCore's) averages each layer
// over its neighbourhood on its own grid and resamples the deeper ones bilinearly to the shallowest
// layer's, finer grid (3 x 3 cells, zeros beyond the border, as PatchCore). Each cell is projected to `dim` dimensions by a
// fixed random Gaussian matrix, and scored by its squared Mahalanobis distance, per dimension, under
// one Gaussian fitted to every cell of the good training images of that scale (shared over positions:
// parts need not be aligned; Ledoit-Wolf covariance). A good cell scores about 1. Each scale's cell
// map is upsampled bilinearly (to a quarter of the input side), the scales averaged, and smoothed by a
// Gaussian of `sigma` input pixels. This is PaDiM's per-cell Gaussian with one covariance shared by
// all positions, on PatchCore's 3 x 3-averaged layer 2+3 cells.
//
// Stored per scale slot k (the k-th entry of config.local.scales): "local.scale{k}.matrix" [C,dim]
// (the projection times the whitening) and "local.scale{k}.offset" [dim] (the whitened mean): a cell
// x scores |x A - b|^2 / dim.
//
// With config.local.flow_blocks > 0 the whitened cells are scored by the local flow (local_flow.h)
// instead: a fully convolutional normalizing flow trained on the whitened cell maps of the good
// images (local_flow_training.h); untrained it is the identity and scores as the Gaussian.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "config.h"
#include "local_flow.h"
#include "tensor_io.h"

namespace differnet {

class LocalScorer {
 public:
  LocalScorer() = default;  // no local scorer
  // Draws the projections (seeded by config.local.projection_seed); unfitted until fit() or load():
  // cells are then only projected (offset 0), which is what fit() is given.
  explicit LocalScorer(const ModelConfig& config);

  bool enabled() const { return enabled_; }
  bool fitted() const { return fitted_; }
  int slots() const { return static_cast<int>(scale_indices_.size()); }
  int scale_index(int slot) const { return scale_indices_.at(static_cast<size_t>(slot)); }
  const std::vector<std::string>& layers() const { return layers_; }

  // The maps of the configured layers at one scale ([N,C_l,h_l,w_l], in config order, any float
  // dtype) -> transformed cells [N,h,w,dim] float (projected; with a fitted scorer also whitened).
  // On the shallowest grid, bf16 maps (a bf16 backbone's) are projected in bf16, the rest in fp32.
  at::Tensor cells(int slot, const std::vector<at::Tensor>& taps) const;
  // Transformed cells -> per-cell scores [N,h,w]: mean of squares over the last dimension.
  static at::Tensor cell_scores(const at::Tensor& cells);
  // Whitened cells of slot `slot` -> per-cell scores [N,h,w]: the local flow's where the model has
  // one, else cell_scores().
  at::Tensor score_cells(int slot, const at::Tensor& cells) const;
  // Projected cells ([..., dim], cells() of an unfitted scorer) -> the whitened cells a fitted
  // scorer's cells() gives, for the slot fit() was last given. Only after fit() in this process
  // (the whitening alone is not stored). Throws Error otherwise.
  at::Tensor whiten_projected(int slot, const at::Tensor& projected_cells) const;
  LocalFlow& flow() { return flow_; }
  const LocalFlow& flow() const { return flow_; }
  // Per-slot cell scores ([N,h_k,w_k] each) -> the smoothed map [N,size,size].
  at::Tensor combine(const std::vector<at::Tensor>& cell_scores, int size) const;

  // Fits slot `slot` from projected cells of good images ([M,dim], M >= 2; cells() of an unfitted
  // scorer). Every slot must be fitted before fitted() is true. Throws Error on non-finite cells.
  void fit(int slot, const at::Tensor& projected_cells);
  // Ledoit-Wolf shrinkage of each slot's fit (-1 before it).
  const std::vector<double>& shrinkage() const { return shrinkage_; }

  TensorMap named_tensors() const;
  // Reads the tensors of named_tensors() (all of them; shapes checked); the scorer is then fitted.
  void load(const TensorMap& tensors);
  void to(const at::Device& device);

 private:
  bool enabled_ = false, fitted_ = false;
  void update_conv_weights();  // conv_weights_ from matrix_
  std::vector<std::string> layers_;
  std::vector<int> layer_channels_;
  std::vector<int> scale_indices_;
  int channels_ = 0, dim_ = 0, neighbourhood_ = 3;
  bool shallowest_grid_ = false;
  double sigma_ = 0.0, input_size_ = 0.0;
  std::vector<at::Tensor> matrix_, offset_;  // per slot: [C,dim], [dim] float
  // per slot: matrix_ as 1 x 1 convolution weights, [dim,C_l,1,1] for each layer's rows, then [dim,C,1,1]
  std::vector<std::vector<at::Tensor>> conv_weights_;
  std::vector<std::vector<at::Tensor>> conv_weights_bf16_;  // the same in bf16, for a bf16 backbone's maps
  std::vector<at::Tensor> projection_;       // per slot [C,dim]: the random projection, until fitted
  std::vector<bool> slot_fitted_;
  std::vector<at::Tensor> whitening_, whitened_mean_;  // per slot after fit(): [dim,dim], [dim] (CPU)
  LocalFlow flow_;
  std::vector<double> shrinkage_;
};

}  // namespace differnet
