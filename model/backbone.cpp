#include "backbone.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "error.h"
#include "safetensors.h"

#ifndef DIFFERNET_WEIGHTS_DIRS
#define DIFFERNET_WEIGHTS_DIRS ""
#endif

namespace differnet {

namespace {

// SqueezeNet 1.1 fire modules: (first conv index, input channels, squeeze, expand per branch).
struct Fire { int k, in, squeeze, expand; };
constexpr Fire kFires[] = {{1, 64, 16, 64},   {4, 128, 16, 64},   {7, 128, 32, 128},  {10, 256, 32, 128},
                           {13, 256, 48, 192}, {16, 384, 48, 192}, {19, 384, 64, 256}, {22, 512, 64, 256}};

using Shapes = std::map<std::string, std::vector<int64_t>>;

void add_conv(Shapes& s, int i, int64_t out, int64_t in, int64_t k) {
  s["conv" + std::to_string(i) + ".weight"] = {out, in, k, k};
  s["conv" + std::to_string(i) + ".bias"] = {out};
}

at::Tensor max_pool(const at::Tensor& x, bool ceil_mode) { return at::max_pool2d(x, {3, 3}, {2, 2}, {0, 0}, {1, 1}, ceil_mode); }

std::vector<std::string> split_dirs(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) out.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::map<std::string, std::vector<int64_t>> backbone_trunk_shapes(const std::string& architecture) {
  Shapes s;
  if (architecture == "squeezenet1_1") {
    add_conv(s, 0, 64, 3, 3);
    for (const Fire& f : kFires) {
      add_conv(s, f.k, f.squeeze, f.in, 1);
      add_conv(s, f.k + 1, f.expand, f.squeeze, 1);
      add_conv(s, f.k + 2, f.expand, f.squeeze, 3);
    }
  } else if (architecture == "alexnet") {
    add_conv(s, 0, 64, 3, 11);
    add_conv(s, 1, 192, 64, 5);
    add_conv(s, 2, 384, 192, 3);
    add_conv(s, 3, 256, 384, 3);
    add_conv(s, 4, 256, 256, 3);
  } else {
    throw Error("unknown backbone architecture '" + architecture + "' (known: squeezenet1_1, alexnet)");
  }
  return s;
}

std::string resolve_backbone_path(const std::string& name_or_path) {
  if (name_or_path != "squeezenet1_1" && name_or_path != "alexnet") {
    if (!std::ifstream(name_or_path)) throw Error("backbone file '" + name_or_path + "' cannot be opened");
    return name_or_path;
  }
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("DIFFERNET_WEIGHTS_DIR")) dirs.push_back(env);
  for (const auto& d : split_dirs(DIFFERNET_WEIGHTS_DIRS)) dirs.push_back(d);
  std::string searched;
  for (const auto& d : dirs) {
    std::string path = d + "/" + name_or_path + ".safetensors";
    if (std::ifstream(path)) return path;
    searched += (searched.empty() ? "" : ", ") + path;
  }
  std::string hint = name_or_path == "alexnet" ? " (AlexNet is not bundled: run scripts/export_alexnet.py and put "
                                                 "alexnet.safetensors in $DIFFERNET_WEIGHTS_DIR, or pass its path)"
                                               : "";
  throw Error("backbone '" + name_or_path + "' not found; searched " + searched + hint);
}

Backbone Backbone::load(const std::string& name_or_path) {
  const std::string path = resolve_backbone_path(name_or_path);
  SafetensorsFile file = read_safetensors(path);
  auto arch = file.metadata.find("architecture");
  if (arch == file.metadata.end())
    throw Error("backbone file '" + path + "' has no 'architecture' in its metadata");
  TensorMap tensors;
  for (const auto& [name, t] : file.tensors) tensors[name] = from_stored(t);
  auto shapes = backbone_trunk_shapes(arch->second);
  if (arch->second == "squeezenet1_1" && tensors.count("conv25.weight")) {  // optional ImageNet classifier
    shapes["conv25.weight"] = {1000, 512, 1, 1};
    shapes["conv25.bias"] = {1000};
  }
  check_shapes(tensors, shapes, "backbone file '" + path + "'");
  Backbone b;
  b.architecture_ = arch->second;
  b.w_ = std::move(tensors);
  return b;
}

Backbone Backbone::from_tensors(const std::string& architecture, const TensorMap& tensors) {
  check_shapes(tensors, backbone_trunk_shapes(architecture), "backbone '" + architecture + "'");
  Backbone b;
  b.architecture_ = architecture;
  for (const auto& [name, t] : tensors) b.w_[name] = t.detach().clone();
  return b;
}

Backbone Backbone::random(const std::string& architecture, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap tensors;
  const auto shapes = backbone_trunk_shapes(architecture);
  for (const auto& [name, shape] : shapes) {
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const auto& wshape = bias ? shapes.at(name.substr(0, name.size() - 5) + ".weight") : shape;
    const double fan_in = static_cast<double>(wshape[1] * wshape[2] * wshape[3]);
    const double bound = 1.0 / std::sqrt(fan_in);
    tensors[name] = at::empty(shape, at::kFloat).uniform_(-bound, bound, gen);
  }
  return from_tensors(architecture, tensors);
}

at::Tensor Backbone::conv(int i, const at::Tensor& x, int stride, int padding) const {
  const std::string p = "conv" + std::to_string(i);
  return at::conv2d(x, w_.at(p + ".weight"), w_.at(p + ".bias"), {stride, stride}, {padding, padding});
}

at::Tensor Backbone::fire(int k, const at::Tensor& x) const {
  at::Tensor s = at::relu(conv(k, x));
  return at::cat({at::relu(conv(k + 1, s)), at::relu(conv(k + 2, s, 1, 1))}, 1);
}

std::vector<std::string> Backbone::layer_names(const std::string& architecture) {
  if (architecture == "alexnet") return {"conv1", "conv2", "conv3", "conv4", "conv5"};
  if (architecture == "squeezenet1_1") return {"fire2", "fire3", "fire4", "fire5", "fire6", "fire7", "fire8", "fire9"};
  throw Error("unknown backbone architecture '" + architecture + "' (known: squeezenet1_1, alexnet)");
}

namespace {
// Index of `layer` in layer_names(architecture); "last" is the last one.
size_t layer_index(const std::string& architecture, const std::string& layer) {
  const auto names = Backbone::layer_names(architecture);
  if (layer == "last") return names.size() - 1;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == layer) return i;
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw Error("backbone " + architecture + " has no layer '" + layer + "' (known: " + known + ", last)");
}
}  // namespace

int Backbone::layer_channels(const std::string& layer) const {
  const size_t i = layer_index(architecture_, layer);
  if (architecture_ == "alexnet") return static_cast<int>(w_.at("conv" + std::to_string(i) + ".bias").size(0));
  const int k = kFires[i].k;
  return static_cast<int>(w_.at("conv" + std::to_string(k + 1) + ".bias").size(0) +
                          w_.at("conv" + std::to_string(k + 2) + ".bias").size(0));
}

std::vector<at::Tensor> Backbone::taps(const at::Tensor& input, const std::vector<std::string>& layers) const {
  std::vector<size_t> wanted;
  for (const auto& l : layers) wanted.push_back(layer_index(architecture_, l));
  const size_t deepest = *std::max_element(wanted.begin(), wanted.end());
  std::vector<at::Tensor> maps;  // by layer index, up to the deepest
  const at::Tensor x = input.to(w_.begin()->second.scalar_type());  // a differentiable cast when needed
  if (architecture_ == "alexnet") {
    at::Tensor h = x;
    for (size_t i = 0; i <= deepest; ++i) {
      if (i > 0 && i < 3) h = max_pool(h, false);  // the pools after conv1 and conv2
      static constexpr int kStride[] = {4, 1, 1, 1, 1}, kPad[] = {2, 2, 1, 1, 1};
      h = at::relu(conv(static_cast<int>(i), h, kStride[i], kPad[i]));
      maps.push_back(i == 4 ? max_pool(h, false) : h);
    }
  } else {
    at::Tensor h = max_pool(at::relu(conv(0, x, 2, 0)), true);
    for (size_t i = 0; i <= deepest; ++i) {
      if (kFires[i].k == 7 || kFires[i].k == 13) h = max_pool(h, true);  // after fire k=4 and k=10
      h = fire(kFires[i].k, h);
      maps.push_back(h);
    }
  }
  std::vector<at::Tensor> out;
  for (size_t i : wanted) out.push_back(maps[i]);
  return out;
}

at::Tensor Backbone::trunk(const at::Tensor& input) const { return taps(input, {"last"})[0]; }

at::Tensor Backbone::imagenet_logits(const at::Tensor& x) const {
  if (!w_.count("conv25.weight")) throw Error("this backbone has no ImageNet classifier weights");
  return at::relu(conv(25, trunk(x))).mean({2, 3});
}

int Backbone::trunk_channels() const {
  if (architecture_ == "alexnet") return static_cast<int>(w_.at("conv4.bias").size(0));
  return static_cast<int>(w_.at("conv23.bias").size(0) + w_.at("conv24.bias").size(0));  // two expand branches
}

TensorMap Backbone::trunk_tensors() const {
  TensorMap out;
  for (const auto& [name, shape] : backbone_trunk_shapes(architecture_)) out[name] = w_.at(name).to(at::kFloat);
  return out;
}

void Backbone::to(const at::Device& device, at::ScalarType dtype) {
  for (auto& [name, t] : w_) t = t.to(device, dtype);
}

}  // namespace differnet
