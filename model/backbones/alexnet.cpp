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

std::vector<at::Tensor> forward(const TensorMap& w, const at::Tensor& x, size_t deepest) {
  static constexpr int kStride[] = {4, 1, 1, 1, 1}, kPad[] = {2, 2, 1, 1, 1};
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

}  // namespace

const Architecture& alexnet() {
  static const Architecture a{"alexnet", {"conv1", "conv2", "conv3", "conv4", "conv5"}, {64, 192, 384, 256, 256},
                              shapes, nullptr, forward};
  return a;
}

}  // namespace differnet::backbones
