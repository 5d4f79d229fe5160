// ResNet50-v2 (pre-activation; the ONNX zoo's MXNet-Gluon "resnetv24"), stem and stages 1 to 3: the
// bundled accurate backbone. Graph and file numbering as in the upstream weights folder resnet50v2_stage3/
// README.md (converted by scripts/weights/convert_resnet50v2.py, names without the "resnetv24_" prefix):
//   stem: batchnorm0 on the input -> conv0 7x7/2 -> batchnorm1 + ReLU -> max pool 3x3/2 pad 1
//   unit (input x): h = ReLU(BN_a(x)); shortcut = first unit ? conv_s(h) : x;
//                   y = conv_1(h) -> ReLU(BN_b) -> conv_2 3x3 (the unit's stride) -> ReLU(BN_c) -> conv_3
//                   output = y + shortcut
// The taps stage1..stage3 are the stages' outputs (un-normalised residual sums: small values, hence
// the standardised features of the presets that use them). Batch norm eps 1e-5, inference statistics.
// prepare() folds BN_b and BN_c (and the stem's batchnorm1) into the convolution before them and
// turns the other batch norms into a scale and a shift: the same function, fewer passes over memory.
#include "architectures.h"

namespace differnet::backbones {

namespace {

struct Stage { int units, in, mid, out, stride; };
constexpr Stage kStages[] = {{3, 64, 64, 256, 1}, {4, 256, 128, 512, 2}, {6, 512, 256, 1024, 2}};
constexpr double kEps = 1e-5;

std::string stage_prefix(int s) { return "stage" + std::to_string(s + 1) + "."; }
std::string bn(int s, int k) { return stage_prefix(s) + "batchnorm" + std::to_string(k); }
std::string conv(int s, int j) { return stage_prefix(s) + "conv" + std::to_string(j); }
// Convolution indices of unit u: main path 1x1, 3x3, 1x1, then the first unit's shortcut.
int conv_index(int u, int which) { return u == 0 ? which : 3 * u + 1 + which; }

void add_bn(Shapes& sh, const std::string& p, int64_t c) {
  for (const char* part : {".gamma", ".beta", ".running_mean", ".running_var"}) sh[p + part] = {c};
}

Shapes shapes() {
  Shapes sh;
  add_bn(sh, "batchnorm0", 3);
  add_conv(sh, "conv0", 64, 3, 7, false);
  add_bn(sh, "batchnorm1", 64);
  for (int s = 0; s < 3; ++s) {
    const Stage& st = kStages[s];
    for (int u = 0; u < st.units; ++u) {
      const int in = u == 0 ? st.in : st.out;
      add_bn(sh, bn(s, 3 * u), in);
      add_bn(sh, bn(s, 3 * u + 1), st.mid);
      add_bn(sh, bn(s, 3 * u + 2), st.mid);
      add_conv(sh, conv(s, conv_index(u, 0)), st.mid, in, 1, false);
      add_conv(sh, conv(s, conv_index(u, 1)), st.mid, st.mid, 3, false);
      add_conv(sh, conv(s, conv_index(u, 2)), st.out, st.mid, 1, false);
      if (u == 0) add_conv(sh, conv(s, 3), st.out, in, 1, false);
    }
  }
  return sh;
}

// scale = gamma / sqrt(var + eps), shift = beta - mean * scale, as [C,1,1] for NCHW broadcasting.
void fold_bn(TensorMap& w, const std::string& p) {
  const at::Tensor scale = w.at(p + ".gamma") / at::sqrt(w.at(p + ".running_var") + kEps);
  w[p + ".scale"] = scale.view({-1, 1, 1}).contiguous();
  w[p + ".shift"] = (w.at(p + ".beta") - w.at(p + ".running_mean") * scale).view({-1, 1, 1}).contiguous();
}

// Folds batch norm `b` into the convolution `c` before it: c.fused_weight, c.fused_bias.
void fold_into_conv(TensorMap& w, const std::string& c, const std::string& b) {
  fold_bn(w, b);
  w[c + ".fused_weight"] = (w.at(c + ".weight") * w.at(b + ".scale").view({-1, 1, 1, 1})).contiguous();
  w[c + ".fused_bias"] = w.at(b + ".shift").view({-1}).contiguous();
}

void prepare(TensorMap& w) {
  fold_bn(w, "batchnorm0");
  fold_into_conv(w, "conv0", "batchnorm1");
  for (int s = 0; s < 3; ++s)
    for (int u = 0; u < kStages[s].units; ++u) {
      fold_bn(w, bn(s, 3 * u));
      fold_into_conv(w, conv(s, conv_index(u, 0)), bn(s, 3 * u + 1));
      fold_into_conv(w, conv(s, conv_index(u, 1)), bn(s, 3 * u + 2));
    }
}

at::Tensor affine(const TensorMap& w, const std::string& p, const at::Tensor& x) {
  return at::addcmul(w.at(p + ".shift"), x, w.at(p + ".scale"));
}

at::Tensor fused_conv(const TensorMap& w, const std::string& c, const at::Tensor& x, int stride, int padding) {
  return at::conv2d(x, w.at(c + ".fused_weight"), w.at(c + ".fused_bias"), {stride, stride}, {padding, padding});
}

std::vector<at::Tensor> forward(const TensorMap& w, const at::Tensor& x, size_t deepest) {
  std::vector<at::Tensor> maps;
  at::Tensor h = affine(w, "batchnorm0", x);  // before the padding of conv0: zeros pad the normalised input
  h = max_pool(at::relu(fused_conv(w, "conv0", h, 2, 3)), false, 1);
  for (size_t s = 0; s <= deepest; ++s) {
    const Stage& st = kStages[s];
    const int si = static_cast<int>(s);
    for (int u = 0; u < st.units; ++u) {
      const int stride = u == 0 ? st.stride : 1;
      const at::Tensor a = at::relu(affine(w, bn(si, 3 * u), h));
      const at::Tensor shortcut =
          u == 0 ? at::conv2d(a, w.at(conv(si, 3) + ".weight"), {}, {stride, stride}) : h;
      at::Tensor y = at::relu(fused_conv(w, conv(si, conv_index(u, 0)), a, 1, 0));
      y = at::relu(fused_conv(w, conv(si, conv_index(u, 1)), y, stride, 1));
      y = at::conv2d(y, w.at(conv(si, conv_index(u, 2)) + ".weight"));
      h = y + shortcut;
    }
    maps.push_back(h);
  }
  return maps;
}

}  // namespace

const Architecture& resnet50v2() {
  static const Architecture a{"resnet50v2", {"stage1", "stage2", "stage3"}, {256, 512, 1024}, shapes, prepare, forward};
  return a;
}

}  // namespace differnet::backbones
