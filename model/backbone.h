// The frozen ImageNet CNN trunk of the feature extractor, as plain LibTorch ops over weights read
// from a safetensors file: SqueezeNet 1.1 (bundled, the default of the fast preset), ResNet50-v2
// stages 1-3 (bundled, the accurate preset) or AlexNet (the paper's; exported by
// scripts/weights/export_alexnet.py). Each network's graph is in backbones/. Always in inference form: no
// dropout, batch norms with their stored statistics, no gradients stored.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "tensor_io.h"

namespace differnet {

namespace backbones {
struct Architecture;
struct Int8Conv;
}

class Backbone {
 public:
  // `name_or_path`: an architecture name ("squeezenet1_1", "resnet50v2", "alexnet": looked up in the
  // weights folders as NAME.safetensors) or a file path.
  static Backbone load(const std::string& name_or_path);
  // Builds from tensors named as in the backbone files; throws Error on a missing or misshapen tensor.
  static Backbone from_tensors(const std::string& architecture, const TensorMap& tensors);

  // Random weights (PyTorch's default conv initialisation), for timing and tests only.
  static Backbone random(const std::string& architecture, uint64_t seed);

  at::Tensor trunk(const at::Tensor& x) const;          // [N,3,H,W] -> last feature map [N,C,h,w]
  // The feature maps of `layers` (names from layer_names(), or "last"), in the order given; the
  // network runs only as deep as the deepest of them.
  std::vector<at::Tensor> taps(const at::Tensor& x, const std::vector<std::string>& layers) const;
  // The layers taps() knows, in network order: SqueezeNet 1.1 fire2..fire9 (the SqueezeNet paper's
  // names; fire9 is the last), ResNet50-v2 stage1..stage3, AlexNet conv1..conv5 (each after its
  // ReLU; conv5 after the last pool).
  static std::vector<std::string> layer_names(const std::string& architecture);
  static std::string known_architectures();  // "squeezenet1_1, alexnet, resnet50v2"
  int layer_channels(const std::string& layer) const;  // throws Error for an unknown layer
  at::Tensor imagenet_logits(const at::Tensor& x) const;  // SqueezeNet only (golden test): [N,1000]

  const std::string& architecture() const { return architecture_; }
  int trunk_channels() const;  // channels of the last layer
  TensorMap trunk_tensors() const;  // the weights the trunk uses (what a model file stores)
  // Moves the weights to `device` in `dtype` (kFloat, or kHalf / kBFloat16 for faster inference);
  // trunk() then takes its input in that dtype whatever it is given.
  void to(const at::Device& device, at::ScalarType dtype = at::kFloat);
  // Whether convolutions run in the channels-last layout (NHWC), oneDNN's and cuDNN's native one: the
  // weights are kept so by to() and each input is laid out so by taps(), so that no reorder runs
  // around each convolution (docs/benchmarks/precision.md). The default; DIFFERNET_CHANNELS_LAST=0
  // keeps LibTorch's default layout (NCHW), for comparison. Read once per process.
  static bool channels_last();

  // int8 inference on the CPU (LibTorch's quantized engine: oneDNN), for the architectures that
  // have an int8 forward (AlexNet): weights quantized per output channel, activations per tensor
  // with fixed ranges measured on good images (int8_ranges), the input over its own range. taps()
  // then runs int8 and returns float maps, except for an input that requires a gradient (the
  // gradient heatmap), which runs the float weights.
  static bool runs_int8(const std::string& architecture);
  // The ranges set_int8 takes, measured on `x` (float weights; the caller takes the maximum over
  // images and scales).
  std::vector<double> int8_ranges(const at::Tensor& x) const;
  // Throws Error where the architecture has no int8 forward, the ranges are not its count or not
  // positive, or LibTorch has no quantized engine. The weights must be on the CPU in float.
  void set_int8(const std::vector<double>& ranges);
  void clear_int8() { int8_.reset(); }
  bool int8() const { return int8_ != nullptr; }

 private:
  void prepare();  // the architecture's derived tensors, from the stored ones in float
  std::string architecture_;
  const backbones::Architecture* arch_ = nullptr;
  TensorMap w_;  // stored and derived tensors
  std::shared_ptr<const std::vector<backbones::Int8Conv>> int8_;  // set by set_int8
};

// The expected trunk tensors (name -> shape) of an architecture; throws Error for an unknown one.
std::map<std::string, std::vector<int64_t>> backbone_trunk_shapes(const std::string& architecture);

// Where a backbone name resolves to: $DIFFERNET_WEIGHTS_DIR, the installed data folder, then the
// source tree's model/weights. Throws Error listing the places searched.
std::string resolve_backbone_path(const std::string& name_or_path);

}  // namespace differnet
