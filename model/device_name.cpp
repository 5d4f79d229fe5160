#include "device_name.h"

#include "error.h"

namespace differnet {

std::string DeviceName::to_string() const {
  switch (kind) {
    case Kind::Cpu: return "cpu";
    case Kind::Cuda: return "cuda:" + std::to_string(index);
    default: return "auto";
  }
}

DeviceName parse_device_name(const std::string& text) {
  DeviceName d;
  if (text == "auto") return d;
  if (text == "cpu") {
    d.kind = DeviceName::Kind::Cpu;
    return d;
  }
  if (text == "cuda") {
    d.kind = DeviceName::Kind::Cuda;
    return d;
  }
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 9 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos) {
    d.kind = DeviceName::Kind::Cuda;
    d.index = std::stoi(text.substr(5));  // 1 to 3 digits: cannot overflow
    return d;
  }
  throw Error("device '" + text + "' is not one of auto, cpu, cuda, cuda:N");
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "fp16") return Precision::FP16;
  if (name == "bf16") return Precision::BF16;
  if (name == "int8") return Precision::INT8;
  throw Error("precision '" + name + "' is not one of fp32, fp16, bf16, int8");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::FP16: return "fp16";
    case Precision::BF16: return "bf16";
    case Precision::INT8: return "int8";
    default: return "fp32";
  }
}

FlowPrecision parse_flow_precision(const std::string& name) {
  if (name == "fp32") return FlowPrecision::FP32;
  if (name == "bf16") return FlowPrecision::BF16;
  if (name == "int8") return FlowPrecision::INT8;
  throw Error("flow precision '" + name + "' is not one of fp32, bf16, int8");
}

const char* flow_precision_name(FlowPrecision precision) {
  switch (precision) {
    case FlowPrecision::BF16: return "bf16";
    case FlowPrecision::INT8: return "int8";
    default: return "fp32";
  }
}

bool parse_precision_choice(const std::string& name, Precision& out) {
  if (name == "auto") return false;
  try {
    out = parse_precision(name);
  } catch (const Error&) {
    throw Error("precision '" + name + "' is not one of auto, fp32, fp16, bf16, int8");
  }
  return true;
}

bool parse_flow_precision_choice(const std::string& name, FlowPrecision& out) {
  if (name == "auto") return false;
  try {
    out = parse_flow_precision(name);
  } catch (const Error&) {
    throw Error("flow precision '" + name + "' is not one of auto, fp32, bf16, int8");
  }
  return true;
}

void check_precision_choice(const std::string& name) {
  Precision p;
  parse_precision_choice(name, p);
}

void check_flow_precision_choice(const std::string& name) {
  FlowPrecision p;
  parse_flow_precision_choice(name, p);
}

std::string arithmetic_name(Precision backbone, FlowPrecision flow) {
  return std::string(precision_name(backbone)) + "/" + flow_precision_name(flow);
}

}  // namespace differnet
