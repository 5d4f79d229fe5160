// SqueezeNet 1.1 (the bundled default): conv0, then eight fire modules; the taps are the fire modules'
// outputs, fire2..fire9 in the SqueezeNet paper's names (fire9 is the trunk's last map, 512 channels).
#include "architectures.h"

namespace differnet::backbones {

namespace {

// Fire modules: (first conv index, input channels, squeeze, expand per branch).
struct Fire { int k, in, squeeze, expand; };
constexpr Fire kFires[] = {{1, 64, 16, 64},   {4, 128, 16, 64},   {7, 128, 32, 128},  {10, 256, 32, 128},
                           {13, 256, 48, 192}, {16, 384, 48, 192}, {19, 384, 64, 256}, {22, 512, 64, 256}};

std::string conv_name(int i) { return "conv" + std::to_string(i); }

Shapes shapes() {
  Shapes s;
  add_conv(s, conv_name(0), 64, 3, 3);
  for (const Fire& f : kFires) {
    add_conv(s, conv_name(f.k), f.squeeze, f.in, 1);
    add_conv(s, conv_name(f.k + 1), f.expand, f.squeeze, 1);
    add_conv(s, conv_name(f.k + 2), f.expand, f.squeeze, 3);
  }
  return s;
}

at::Tensor conv(const TensorMap& w, int i, const at::Tensor& x, int stride = 1, int padding = 0) {
  const std::string p = conv_name(i);
  return at::conv2d(x, w.at(p + ".weight"), w.at(p + ".bias"), {stride, stride}, {padding, padding});
}

at::Tensor fire(const TensorMap& w, int k, const at::Tensor& x) {
  at::Tensor s = at::relu(conv(w, k, x));
  return at::cat({at::relu(conv(w, k + 1, s)), at::relu(conv(w, k + 2, s, 1, 1))}, 1);
}

std::vector<at::Tensor> forward(const TensorMap& w, const at::Tensor& x, size_t deepest) {
  std::vector<at::Tensor> maps;
  at::Tensor h = max_pool(at::relu(conv(w, 0, x, 2, 0)), true);
  for (size_t i = 0; i <= deepest; ++i) {
    if (kFires[i].k == 7 || kFires[i].k == 13) h = max_pool(h, true);  // after fire k=4 and k=10
    h = fire(w, kFires[i].k, h);
    maps.push_back(h);
  }
  return maps;
}

}  // namespace

const Architecture& squeezenet1_1() {
  static const Architecture a{"squeezenet1_1",
                              {"fire2", "fire3", "fire4", "fire5", "fire6", "fire7", "fire8", "fire9"},
                              {128, 128, 256, 256, 384, 384, 512, 512},
                              shapes,
                              nullptr,
                              forward};
  return a;
}

}  // namespace differnet::backbones
