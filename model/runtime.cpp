#include "runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <thread>

#include "error.h"

namespace differnet {

bool cuda_available() { return at::hasCUDA() && cuda_device_count() > 0; }

int cuda_device_count() { return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

std::string resolve_device(const std::string& requested) {
  if (requested == "auto") return cuda_available() ? "cuda:0" : "cpu";
  if (requested == "cpu") return "cpu";
  int index = 0;
  if (requested == "cuda") {
    index = 0;
  } else if (requested.rfind("cuda:", 0) == 0 && requested.size() > 5 &&
             requested.find_first_not_of("0123456789", 5) == std::string::npos && requested.size() < 9) {
    index = std::stoi(requested.substr(5));
  } else {
    throw Error("device '" + requested + "' is not one of auto, cpu, cuda, cuda:N");
  }
  if (!at::hasCUDA())
    throw Error("device '" + requested + "' was asked for, but this build of LibTorch has no CUDA support "
                "(rebuild with -Dlibtorch_dir= pointing at a CUDA LibTorch, or use device=cpu)");
  const int count = cuda_device_count();
  if (index >= count)
    throw Error("device '" + requested + "' was asked for, but " + std::to_string(count) + " CUDA device(s) are visible");
  return "cuda:" + std::to_string(index);
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "fp16") return Precision::FP16;
  if (name == "bf16") return Precision::BF16;
  throw Error("precision '" + name + "' is not one of fp32, fp16, bf16");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::FP16: return "fp16";
    case Precision::BF16: return "bf16";
    default: return "fp32";
  }
}

void check_precision(const std::string& device, Precision precision) {
  if (precision == Precision::FP16 && device.rfind("cuda", 0) != 0)
    throw Error("precision fp16 needs a CUDA device (LibTorch has no fp16 convolutions on the CPU); "
                "on '" + device + "' use fp32 or bf16");
}

void configure_device(const std::string& device, bool allow_tf32) {
  if (device.rfind("cuda", 0) != 0) return;
  at::globalContext().setBenchmarkCuDNN(true);
  at::globalContext().setAllowTF32CuDNN(allow_tf32);
  at::globalContext().setAllowTF32CuBLAS(allow_tf32);
}

void synchronize(const std::string& device) {
  if (device.rfind("cuda", 0) != 0) return;
  const at::Device d(device);
  at::detail::getCUDAHooks().deviceSynchronize(d.has_index() ? d.index() : 0);
}

int set_threads(int threads) {
  if (threads < 0) throw Error("threads must be 0 (one per core) or more, got " + std::to_string(threads));
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  return threads;
}

}  // namespace differnet
