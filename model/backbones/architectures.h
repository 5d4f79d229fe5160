// The CNN trunks a Backbone can be. Each architecture says which tensors its weights file holds (name
// and shape), which feature layers it offers (network order, with their channels), and how its
// forward pass runs, as plain LibTorch ops. backbone.cpp picks one by name; one file per network.
#pragma once
#include <ATen/ATen.h>
#include <ATen/native/quantized/PackedParams.h>

#include <map>
#include <string>
#include <vector>

#include "../tensor_io.h"

namespace differnet::backbones {

using Shapes = std::map<std::string, std::vector<int64_t>>;

// A convolution of an int8 forward pass: its weights quantized per output channel and packed for
// LibTorch's quantized engine (oneDNN here), and the scale of its unsigned 8-bit output.
struct Int8Conv {
  c10::intrusive_ptr<ConvPackedParamsBase<2>> packed;
  double output_scale = 0.0;
};

struct Architecture {
  std::string name;
  std::vector<std::string> layers;  // the feature layers, in network order; the last is "last"
  std::vector<int> channels;        // the channels of each layer's map
  Shapes (*shapes)();               // the trunk tensors a weights file must hold
  // Adds tensors derived from the stored ones (batch norms folded into convolutions), computed once
  // in float after loading; nullptr when there are none. Derived tensors are never written to files.
  void (*prepare)(TensorMap& w);
  // The maps of layers 0..deepest of `x` (already in the weights' dtype and on their device).
  std::vector<at::Tensor> (*forward)(const TensorMap& w, const at::Tensor& x, size_t deepest);
  // int8 inference, where the architecture has it (nullptr elsewhere):
  //  - int8_ranges: the largest value of each activation the int8 pass quantizes, for `x` in float;
  //  - int8_pack: the quantized, packed convolutions for activation ranges of that form;
  //  - forward_int8: the maps of layers 0..deepest, quantized (the caller dequantizes those it keeps).
  std::vector<double> (*int8_ranges)(const TensorMap& w, const at::Tensor& x) = nullptr;
  std::vector<Int8Conv> (*int8_pack)(const TensorMap& w, const std::vector<double>& ranges) = nullptr;
  std::vector<at::Tensor> (*forward_int8)(const std::vector<Int8Conv>& convs, const at::Tensor& x, size_t deepest) = nullptr;
};

const Architecture& find(const std::string& name);  // throws Error listing the known ones
std::string known_names();                          // "squeezenet1_1, alexnet, resnet50v2, mobilenetv2"

const Architecture& squeezenet1_1();
const Architecture& alexnet();
const Architecture& resnet50v2();
const Architecture& mobilenetv2();

// Helpers shared by the architectures' files.
void add_conv(Shapes& s, const std::string& prefix, int64_t out, int64_t in, int64_t k, bool bias = true);
at::Tensor max_pool(const at::Tensor& x, bool ceil_mode, int padding = 0);
// The levels each side of zero of an int8 weight on this CPU: 127 where oneDNN multiplies with
// AVX512-VNNI, 63 elsewhere (the instructions without VNNI add pairs of 8-bit products in 16 bits and saturate).
int int8_weight_levels();
// Packs a float convolution for int8: weights symmetric per output channel (max |w| divided by
// int8_weight_levels()), the output's scale `output_max` / 255 (unsigned, zero point 0: the
// convolutions are followed by ReLUs).
Int8Conv pack_int8_conv(const at::Tensor& weight, const at::Tensor& bias, int stride, int padding, double output_max);
// The input of an int8 pass: quantized per tensor to unsigned 8 bits over its own range (in
// channels-last, the layout oneDNN's quantized convolutions take).
at::Tensor quantize_input(const at::Tensor& x);

}  // namespace differnet::backbones
