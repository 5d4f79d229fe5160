// AlexNet (the paper's backbone; exported by scripts/weights/export_alexnet.py): five convolutions, each tap
// after its ReLU, conv5 after the last max pool (torchvision's `features`).
#include "architectures.h"

namespace differnet::backbones {

namespace {

std::string conv_name(int i) { return "conv" + std::to_string(i); }

Shapes shapes() {
  Shapes s;
  add_conv(s, conv_name(0), 64, 3, 11);
  add_conv(s, conv_name(1), 192, 64, 5);
  add_conv(s, conv_name(2), 384, 192, 3);
  add_conv(s, conv_name(3), 256, 384, 3);
  add_conv(s, conv_name(4), 256, 256, 3);
  return s;
}

constexpr int kStride[] = {4, 1, 1, 1, 1}, kPad[] = {2, 2, 1, 1, 1};

std::vector<at::Tensor> forward(const TensorMap& w, const at::Tensor& x, size_t deepest) {
  std::vector<at::Tensor> maps;
  at::Tensor h = x;
  for (size_t i = 0; i <= deepest; ++i) {
    if (i > 0 && i < 3) h = max_pool(h, false);  // the pools after conv1 and conv2
    const std::string p = conv_name(static_cast<int>(i));
    h = at::relu(at::conv2d(h, w.at(p + ".weight"), w.at(p + ".bias"), {kStride[i], kStride[i]}, {kPad[i], kPad[i]}));
    maps.push_back(i == 4 ? max_pool(h, false) : h);
  }
  return maps;
}

// int8: the five convolutions with their ReLUs fused, the pools on the quantized maps. The ranges
// are those of the five ReLU outputs (before the pools, which keep the range).
std::vector<double> int8_ranges(const TensorMap& w, const at::Tensor& x) {
  std::vector<double> out;
  at::Tensor h = x;
  for (size_t i = 0; i < 5; ++i) {
    if (i > 0 && i < 3) h = max_pool(h, false);
    const std::string p = conv_name(static_cast<int>(i));
    h = at::relu(at::conv2d(h, w.at(p + ".weight"), w.at(p + ".bias"), {kStride[i], kStride[i]}, {kPad[i], kPad[i]}));
    out.push_back(h.max().item<double>());
  }
  return out;
}

std::vector<Int8Conv> int8_pack(const TensorMap& w, const std::vector<double>& ranges) {
  std::vector<Int8Conv> convs;
  for (size_t i = 0; i < 5; ++i) {
    const std::string p = conv_name(static_cast<int>(i));
    convs.push_back(pack_int8_conv(w.at(p + ".weight"), w.at(p + ".bias"), kStride[i], kPad[i], ranges.at(i)));
  }
  return convs;
}

std::vector<at::Tensor> forward_int8(const std::vector<Int8Conv>& convs, const at::Tensor& x, size_t deepest) {
  std::vector<at::Tensor> maps;
  at::Tensor h = quantize_input(x);
  for (size_t i = 0; i <= deepest; ++i) {
    if (i > 0 && i < 3) h = max_pool(h, false);
    h = convs[i].packed->apply_relu(h, convs[i].output_scale, 0);
    maps.push_back(i == 4 ? max_pool(h, false) : h);
  }
  return maps;
}

}  // namespace

const Architecture& alexnet() {
  static const Architecture a{"alexnet",  {"conv1", "conv2", "conv3", "conv4", "conv5"}, {64, 192, 384, 256, 256},
                              shapes,     nullptr,      forward, int8_ranges, int8_pack, forward_int8};
  return a;
}

}  // namespace differnet::backbones
