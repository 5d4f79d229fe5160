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
  const DeviceName d = parse_device_name(requested);
  if (d.kind == DeviceName::Kind::Auto) return cuda_available() ? "cuda:0" : "cpu";
  if (d.kind == DeviceName::Kind::Cpu) return "cpu";
  if (!at::hasCUDA())
    throw Error("device '" + requested + "' was asked for, but this build of LibTorch has no CUDA support "
                "(rebuild with -Dlibtorch_dir= pointing at a CUDA LibTorch, or use device=cpu)");
  const int count = cuda_device_count();
  if (d.index >= count)
    throw Error("device '" + requested + "' was asked for, but " + std::to_string(count) + " CUDA device(s) are visible");
  return d.to_string();
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
