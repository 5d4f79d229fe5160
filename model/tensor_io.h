// Conversion between safetensors entries and LibTorch tensors (float32 on the CPU).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "safetensors.h"

namespace differnet {

using TensorMap = std::map<std::string, at::Tensor>;

StoredTensor to_stored(const at::Tensor& t);         // any float tensor -> F32 little-endian
at::Tensor from_stored(const StoredTensor& t);       // F32/F16/BF16/F64 -> float32 CPU tensor

// Checks that `tensors` holds exactly the names of `expected` with those shapes; throws Error naming
// `what` and the first difference.
void check_shapes(const TensorMap& tensors, const std::map<std::string, std::vector<int64_t>>& expected,
                  const std::string& what);

}  // namespace differnet
