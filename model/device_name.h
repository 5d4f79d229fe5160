// The device and precision names users write (element properties, tool options), parsed without
// LibTorch: the element checks them when they are set, and the fuzzer (tests/fuzz/fuzz_strings.cpp)
// runs them without a LibTorch build.
#pragma once
#include <string>

namespace differnet {

// "auto", "cpu", "cuda" (= cuda:0) or "cuda:N" with N of 1 to 3 digits.
struct DeviceName {
  enum class Kind { Auto, Cpu, Cuda };
  Kind kind = Kind::Auto;
  int index = 0;  // Cuda only
  std::string to_string() const;  // the canonical spelling: "auto", "cpu", "cuda:N"
};
// Throws Error naming the accepted names on anything else.
DeviceName parse_device_name(const std::string& text);

// The arithmetic of the backbone (the frozen CNN). The flow and the score always stay fp32: the
// score sums squares of 2 x 1000 numbers and half precision would round it visibly.
enum class Precision { FP32, FP16, BF16 };
// "fp32", "fp16" or "bf16"; throws Error on anything else.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);

}  // namespace differnet
