#include "backbone.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "backbones/architectures.h"
#include "error.h"
#include "runtime.h"
#include "safetensors.h"

#ifndef DIFFERNET_WEIGHTS_DIRS
#define DIFFERNET_WEIGHTS_DIRS ""
#endif

namespace differnet {

namespace {

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

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_architecture_name(const std::string& name) {
  try {
    backbones::find(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// SqueezeNet's optional ImageNet classifier (conv25), kept in the bundled file for the golden test.
constexpr const char* kSqueezeNetClassifier = "conv25";

}  // namespace

std::map<std::string, std::vector<int64_t>> backbone_trunk_shapes(const std::string& architecture) {
  return backbones::find(architecture).shapes();
}

std::string resolve_backbone_path(const std::string& name_or_path) {
  if (!is_architecture_name(name_or_path)) {
    if (!std::ifstream(name_or_path))
      throw Error("backbone file '" + name_or_path + "' cannot be opened (backbone names: " +
                  backbones::known_names() + ")");
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
  std::string hint = name_or_path == "alexnet" ? " (AlexNet is not bundled: run scripts/weights/export_alexnet.py and put "
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
  const std::string cls = kSqueezeNetClassifier;
  if (arch->second == "squeezenet1_1" && tensors.count(cls + ".weight")) {  // optional ImageNet classifier
    shapes[cls + ".weight"] = {1000, 512, 1, 1};
    shapes[cls + ".bias"] = {1000};
  }
  check_shapes(tensors, shapes, "backbone file '" + path + "'");
  Backbone b;
  b.architecture_ = arch->second;
  b.arch_ = &backbones::find(arch->second);
  b.w_ = std::move(tensors);
  b.prepare();
  return b;
}

Backbone Backbone::from_tensors(const std::string& architecture, const TensorMap& tensors) {
  check_shapes(tensors, backbone_trunk_shapes(architecture), "backbone '" + architecture + "'");
  Backbone b;
  b.architecture_ = architecture;
  b.arch_ = &backbones::find(architecture);
  for (const auto& [name, t] : tensors) b.w_[name] = t.detach().to(at::kFloat).clone();
  b.prepare();
  return b;
}

void Backbone::prepare() {
  if (arch_->prepare) arch_->prepare(w_);
}

Backbone Backbone::random(const std::string& architecture, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap tensors;
  const auto shapes = backbone_trunk_shapes(architecture);
  for (const auto& [name, shape] : shapes) {
    at::Tensor t = at::empty(shape, at::kFloat);
    if (ends_with(name, ".gamma") || ends_with(name, ".running_var")) {
      t.uniform_(0.5, 1.5, gen);  // batch norm: positive scales and variances
    } else if (ends_with(name, ".beta") || ends_with(name, ".running_mean")) {
      t.uniform_(-0.1, 0.1, gen);
    } else {
      // PyTorch's default conv initialisation: uniform in +-1/sqrt(fan_in) for weight and bias.
      const bool bias = ends_with(name, ".bias");
      const auto& wshape = bias ? shapes.at(name.substr(0, name.size() - 5) + ".weight") : shape;
      const double bound = 1.0 / std::sqrt(static_cast<double>(wshape[1] * wshape[2] * wshape[3]));
      t.uniform_(-bound, bound, gen);
    }
    tensors[name] = t;
  }
  return from_tensors(architecture, tensors);
}

std::vector<std::string> Backbone::layer_names(const std::string& architecture) {
  return backbones::find(architecture).layers;
}

std::string Backbone::known_architectures() { return backbones::known_names(); }

namespace {
// Index of `layer` in the architecture's layers; "last" is the last one.
size_t layer_index(const backbones::Architecture& a, const std::string& layer) {
  if (layer == "last") return a.layers.size() - 1;
  for (size_t i = 0; i < a.layers.size(); ++i)
    if (a.layers[i] == layer) return i;
  std::string known;
  for (const auto& n : a.layers) known += (known.empty() ? "" : ", ") + n;
  throw Error("backbone " + a.name + " has no layer '" + layer + "' (known: " + known + ", last)");
}
}  // namespace

int Backbone::layer_channels(const std::string& layer) const { return arch_->channels[layer_index(*arch_, layer)]; }

std::vector<at::Tensor> Backbone::taps(const at::Tensor& input, const std::vector<std::string>& layers) const {
  std::vector<size_t> wanted;
  for (const auto& l : layers) wanted.push_back(layer_index(*arch_, l));
  const size_t deepest = *std::max_element(wanted.begin(), wanted.end());
  if (int8_ && !input.requires_grad()) {
    const std::vector<at::Tensor> maps = arch_->forward_int8(*int8_, input, deepest);
    std::vector<at::Tensor> out;
    for (size_t i : wanted) out.push_back(maps[i].dequantize());
    return out;
  }
  at::Tensor x = input.to(w_.begin()->second.scalar_type());  // a differentiable cast when needed
  if (channels_last()) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const std::vector<at::Tensor> maps = arch_->forward(w_, x, deepest);  // by layer index, up to the deepest
  std::vector<at::Tensor> out;
  for (size_t i : wanted) out.push_back(maps[i]);
  return out;
}

at::Tensor Backbone::trunk(const at::Tensor& input) const { return taps(input, {"last"})[0]; }

at::Tensor Backbone::imagenet_logits(const at::Tensor& x) const {
  const std::string cls = kSqueezeNetClassifier;
  if (architecture_ != "squeezenet1_1" || !w_.count(cls + ".weight"))
    throw Error("this backbone has no ImageNet classifier weights");
  return at::relu(at::conv2d(trunk(x), w_.at(cls + ".weight"), w_.at(cls + ".bias"))).mean({2, 3});
}

int Backbone::trunk_channels() const { return arch_->channels.back(); }

TensorMap Backbone::trunk_tensors() const {
  TensorMap out;
  for (const auto& [name, shape] : backbone_trunk_shapes(architecture_)) out[name] = w_.at(name).to(at::kFloat);
  return out;
}

bool Backbone::channels_last() {
  static const bool on = [] {
    const char* v = std::getenv("DIFFERNET_CHANNELS_LAST");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

bool Backbone::runs_int8(const std::string& architecture) {
  return backbones::find(architecture).forward_int8 != nullptr;
}

std::vector<double> Backbone::int8_ranges(const at::Tensor& x) const {
  if (!arch_->int8_ranges) throw Error("backbone " + architecture_ + " has no int8 forward (int8 runs AlexNet only)");
  at::NoGradGuard no_grad;
  at::Tensor in = x.detach().to(w_.begin()->second.scalar_type());
  if (channels_last()) in = in.contiguous(at::MemoryFormat::ChannelsLast);
  return arch_->int8_ranges(w_, in);
}

void Backbone::set_int8(const std::vector<double>& ranges) {
  if (!arch_->int8_pack)
    throw Error("precision int8: backbone " + architecture_ + " has no int8 forward (int8 runs AlexNet, the paper's "
                "backbone, only); use fp32 or bf16");
  const at::Tensor& any = w_.begin()->second;
  if (!any.device().is_cpu() || any.scalar_type() != at::kFloat)
    throw Error("precision int8 runs on the CPU, from float weights");
  if (!select_quantized_engine())
    throw Error("precision int8 needs a quantized engine (FBGEMM, oneDNN or QNNPACK) this LibTorch lacks");
  const size_t expected = arch_->int8_ranges(w_, at::zeros({1, 3, 64, 64})).size();
  if (ranges.size() != expected)
    throw Error("precision int8: the model holds " + std::to_string(ranges.size()) + " int8 activation ranges, " +
                architecture_ + " needs " + std::to_string(expected) +
                " (recalibrate: differnet-calibrate MODEL GOOD_IMAGES)");
  for (double r : ranges)
    if (!std::isfinite(r) || r <= 0) throw Error("precision int8: an int8 activation range is not finite and > 0");
  at::NoGradGuard no_grad;
  int8_ = std::make_shared<const std::vector<backbones::Int8Conv>>(arch_->int8_pack(w_, ranges));
}

void Backbone::to(const at::Device& device, at::ScalarType dtype) {
  int8_.reset();  // packed from the weights as they were
  for (auto& [name, t] : w_) {
    t = t.to(device, dtype);
    if (t.dim() == 4 && channels_last()) t = t.contiguous(at::MemoryFormat::ChannelsLast);
  }
}

}  // namespace differnet
