// The CNN trunks a Backbone can be. Each architecture says which tensors its weights file holds (name
// and shape), which feature layers it offers (network order, with their channels), and how its
// forward pass runs, as plain LibTorch ops. backbone.cpp picks one by name; one file per network.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "../tensor_io.h"

namespace differnet::backbones {

using Shapes = std::map<std::string, std::vector<int64_t>>;

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

}  // namespace differnet::backbones
