#include "architectures.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>

#include "../error.h"
#include "../runtime.h"

namespace differnet::backbones {

namespace {
const std::vector<const Architecture*>& all() {
  static const std::vector<const Architecture*> list = {&squeezenet1_1(), &alexnet(), &resnet50v2(), &mobilenetv2()};
  return list;
}
}  // namespace

const Architecture& find(const std::string& name) {
  for (const Architecture* a : all())
    if (a->name == name) return *a;
  throw Error("unknown backbone architecture '" + name + "' (known: " + known_names() + ")");
}

std::string known_names() {
  std::string out;
  for (const Architecture* a : all()) out += (out.empty() ? "" : ", ") + a->name;
  return out;
}

void add_conv(Shapes& s, const std::string& prefix, int64_t out, int64_t in, int64_t k, bool bias) {
  s[prefix + ".weight"] = {out, in, k, k};
  if (bias) s[prefix + ".bias"] = {out};
}

at::Tensor max_pool(const at::Tensor& x, bool ceil_mode, int padding) {
  return at::max_pool2d(x, {3, 3}, {2, 2}, {padding, padding}, {1, 1}, ceil_mode);
}

int int8_weight_levels() {
  // With VNNI (vpdpbusd) the u8 x s8 products are summed in 32 bits. Without it, oneDNN and FBGEMM
  // multiply with vpmaddubsw, which adds each pair of products in 16 bits and saturates: two
  // products of 255 x 127 (64770) overflow 32767, and the convolution's sums come out wrong.
  // Weights of 7 bits keep every pair within range (2 x 255 x 63 = 32130). Full range only where
  // the kernels certainly use VNNI (CpuArithmetic::int8_full_range).
  return cpu_arithmetic().int8_full_range ? 127 : 63;
}

Int8Conv pack_int8_conv(const at::Tensor& weight, const at::Tensor& bias, int stride, int padding, double output_max) {
  static const auto prepack =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::conv2d_prepack", "")
          .typed<c10::intrusive_ptr<ConvPackedParamsBase<2>>(at::Tensor, c10::optional<at::Tensor>, torch::List<int64_t>,
                                                              torch::List<int64_t>, torch::List<int64_t>, int64_t)>();
  const at::Tensor w = weight.detach().to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor scales = (w.abs().amax({1, 2, 3}).to(at::kDouble) / int8_weight_levels()).clamp_min(1e-12);
  const at::Tensor q = at::quantize_per_channel(w, scales, at::zeros({w.size(0)}, at::kLong), 0, at::kQInt8);
  Int8Conv c;
  c.packed = prepack.call(q, bias.detach().to(at::kCPU, at::kFloat).contiguous(), torch::List<int64_t>({stride, stride}),
                          torch::List<int64_t>({padding, padding}), torch::List<int64_t>({1, 1}), 1);
  c.output_scale = output_max / 255.0;
  return c;
}

at::Tensor quantize_input(const at::Tensor& x) {
  const at::Tensor f = x.detach().to(at::kFloat).contiguous(at::MemoryFormat::ChannelsLast);
  const double lo = std::min(0.0, f.min().item<double>()), hi = std::max(0.0, f.max().item<double>());
  const double scale = hi > lo ? (hi - lo) / 255.0 : 1.0;
  const int64_t zero = std::clamp<int64_t>(static_cast<int64_t>(std::lround(-lo / scale)), 0, 255);
  return at::quantize_per_tensor(f, scale, zero, at::kQUInt8);
}

}  // namespace differnet::backbones
