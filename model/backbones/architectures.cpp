#include "architectures.h"

#include "../error.h"

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

}  // namespace differnet::backbones
