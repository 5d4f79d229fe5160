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
// score sums squares of 2 x 1000 numbers and half precision would round it visibly. int8 (CPU, the
// architectures with an int8 forward: AlexNet): weights quantized per output channel, each
// activation per tensor with a range measured on good images when the model is calibrated
// (Calibration::int8_activation_max).
enum class Precision { FP32, FP16, BF16, INT8 };
// "fp32", "fp16", "bf16" or "int8"; throws Error on anything else.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);

// The arithmetic of the flow's linear layers (the subnets' weights; the coupling, the clamp and the
// score stay fp32): fp32 (the method), bf16 (weights and activations in bfloat16), int8 (weights
// quantized per output channel, activations quantized per batch on the fly, CPU only). The flow reads
// its whole weight set for every frame (688 MB at the paper's width 2048), so smaller weights are
// faster; measured for speed and ROC AUC in README.md. The gradient pass (localization) runs int8
// flows with their fp32 weights (int8 layers have no gradient); their score still comes from int8.
enum class FlowPrecision { FP32, BF16, INT8 };
// "fp32", "bf16" or "int8"; throws Error on anything else.
FlowPrecision parse_flow_precision(const std::string& name);
const char* flow_precision_name(FlowPrecision precision);

// A user's choice of precision: "auto" (the fastest this machine runs well, runtime.h's
// auto_precision) or a name above. These return false for "auto" and set `out` otherwise; they throw
// Error naming the accepted names on anything else.
bool parse_precision_choice(const std::string& name, Precision& out);
bool parse_flow_precision_choice(const std::string& name, FlowPrecision& out);
// Checks a choice without keeping it (element properties, the fuzzer).
void check_precision_choice(const std::string& name);
void check_flow_precision_choice(const std::string& name);

// The name of an arithmetic, backbone and flow together: "fp32/fp32", "bf16/int8", ...
std::string arithmetic_name(Precision backbone, FlowPrecision flow);

}  // namespace differnet
