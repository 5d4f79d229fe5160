#include "tensor_io.h"

#include <cstring>
#include <sstream>

#include "error.h"

namespace differnet {

namespace {
std::string shape_str(c10::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  return o.str() + "]";
}
}  // namespace

StoredTensor to_stored(const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  StoredTensor s;
  s.dtype = "F32";
  s.shape = c.sizes().vec();
  s.bytes.resize(static_cast<size_t>(c.numel()) * 4);
  std::memcpy(s.bytes.data(), c.data_ptr<float>(), s.bytes.size());  // x86/ARM hosts are little-endian
  return s;
}

at::Tensor from_stored(const StoredTensor& s) {
  at::ScalarType type;
  if (s.dtype == "F32") type = at::kFloat;
  else if (s.dtype == "F16") type = at::kHalf;
  else if (s.dtype == "BF16") type = at::kBFloat16;
  else if (s.dtype == "F64") type = at::kDouble;
  else throw Error("tensor dtype " + s.dtype + " is not a floating-point type");
  at::Tensor t = at::empty(s.shape, at::TensorOptions().dtype(type));
  std::memcpy(t.data_ptr(), s.bytes.data(), s.bytes.size());
  return t.to(at::kFloat);
}

void check_shapes(const TensorMap& tensors, const std::map<std::string, std::vector<int64_t>>& expected,
                  const std::string& what) {
  for (const auto& [name, shape] : expected) {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw Error(what + ": tensor '" + name + "' is missing");
    if (it->second.sizes().vec() != shape)
      throw Error(what + ": tensor '" + name + "' has shape " + shape_str(it->second.sizes()) + ", expected " +
                  shape_str(shape));
  }
  for (const auto& [name, t] : tensors)
    if (!expected.count(name)) throw Error(what + ": unexpected tensor '" + name + "'");
}

}  // namespace differnet
