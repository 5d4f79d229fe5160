// MobileNetV2 (the ONNX zoo's mobilenetv2-7), the complete feature trunk: conv0, 17 inverted-residual
// blocks and the 1280-channel head convolution; batch norms are already folded into the stored
// convolutions. Graph and file numbering as in the upstream weights folder mobilenetv2/README.md (converted by
// scripts/weights/convert_mobilenetv2.py, conv_{i} -> conv{i}). The taps are the blocks' outputs, block1..
// block17 (torchvision's features[1..17]), and head (features[18], the trunk's last map).
#include <iterator>

#include "architectures.h"

namespace differnet::backbones {

namespace {

// (expand conv or -1, depthwise conv, project conv, stride, input channels, output channels)
struct Block { int expand, depthwise, project, stride, in, out; };
constexpr Block kBlocks[] = {
    {-1, 2, 4, 1, 32, 16},     {5, 7, 9, 2, 16, 24},      {10, 12, 14, 1, 24, 24},   {16, 18, 20, 2, 24, 32},
    {21, 23, 25, 1, 32, 32},   {27, 29, 31, 1, 32, 32},   {33, 35, 37, 2, 32, 64},   {38, 40, 42, 1, 64, 64},
    {44, 46, 48, 1, 64, 64},   {50, 52, 54, 1, 64, 64},   {56, 58, 60, 1, 64, 96},   {61, 63, 65, 1, 96, 96},
    {67, 69, 71, 1, 96, 96},   {73, 75, 77, 2, 96, 160},  {78, 80, 82, 1, 160, 160}, {84, 86, 88, 1, 160, 160},
    {90, 92, 94, 1, 160, 320}};
constexpr int kHead = 95;

std::string conv_name(int i) { return "conv" + std::to_string(i); }
int hidden(const Block& b) { return b.expand < 0 ? b.in : 6 * b.in; }

Shapes shapes() {
  Shapes s;
  add_conv(s, conv_name(0), 32, 3, 3);
  for (const Block& b : kBlocks) {
    if (b.expand >= 0) add_conv(s, conv_name(b.expand), hidden(b), b.in, 1);
    s[conv_name(b.depthwise) + ".weight"] = {hidden(b), 1, 3, 3};
    s[conv_name(b.depthwise) + ".bias"] = {hidden(b)};
    add_conv(s, conv_name(b.project), b.out, hidden(b), 1);
  }
  add_conv(s, conv_name(kHead), 1280, 320, 1);
  return s;
}

at::Tensor conv(const TensorMap& w, int i, const at::Tensor& x, int stride = 1, int padding = 0, int groups = 1) {
  const std::string p = conv_name(i);
  return at::conv2d(x, w.at(p + ".weight"), w.at(p + ".bias"), {stride, stride}, {padding, padding}, {1, 1}, groups);
}

at::Tensor clip6(const at::Tensor& x) { return at::hardtanh(x, 0.0, 6.0); }

std::vector<at::Tensor> forward(const TensorMap& w, const at::Tensor& x, size_t deepest) {
  std::vector<at::Tensor> maps;
  at::Tensor h = clip6(conv(w, 0, x, 2, 1));
  for (size_t i = 0; i <= deepest; ++i) {
    if (i == std::size(kBlocks)) {
      maps.push_back(clip6(conv(w, kHead, h)));
      break;
    }
    const Block& b = kBlocks[i];
    at::Tensor y = b.expand >= 0 ? clip6(conv(w, b.expand, h)) : h;
    y = clip6(conv(w, b.depthwise, y, b.stride, 1, hidden(b)));
    y = conv(w, b.project, y);
    h = (b.stride == 1 && b.in == b.out) ? y + h : y;
    maps.push_back(h);
  }
  return maps;
}

std::vector<std::string> layer_names() {
  std::vector<std::string> names;
  for (size_t i = 1; i <= std::size(kBlocks); ++i) names.push_back("block" + std::to_string(i));
  names.push_back("head");
  return names;
}

std::vector<int> layer_channels() {
  std::vector<int> c;
  for (const Block& b : kBlocks) c.push_back(b.out);
  c.push_back(1280);
  return c;
}

}  // namespace

const Architecture& mobilenetv2() {
  static const Architecture a{"mobilenetv2", layer_names(), layer_channels(), shapes, nullptr, forward};
  return a;
}

}  // namespace differnet::backbones
