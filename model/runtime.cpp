#include "runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <malloc.h>

#include <cstdlib>
#include <limits>
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

bool cpu_runs_bf16_convolutions() {
  // Asked of the kernels themselves, once: oneDNN refuses bf16 convolutions below AVX-512 (and
  // where ONEDNN_MAX_CPU_ISA caps it so), and what it refuses cannot be guessed from /proc/cpuinfo.
  static const bool ok = [] {
    try {
      at::NoGradGuard no_grad;
      const auto bf16 = at::TensorOptions(at::kBFloat16);
      // Shapes large enough to take oneDNN's path, as the backbone and the flow do (small ones may
      // fall back to ATen's reference kernels and pass where real ones fail).
      at::conv2d(at::ones({1, 64, 16, 16}, bf16), at::ones({64, 64, 3, 3}, bf16), at::ones({64}, bf16), 1, 1);
      at::linear(at::ones({8, 256}, bf16), at::ones({256, 256}, bf16), at::ones({256}, bf16));
      return true;
    } catch (const std::exception&) {  // c10::Error, or oneDNN's own dnnl::error
      return false;
    }
  }();
  return ok;
}

void check_precision(const std::string& device, Precision precision) {
  if (precision == Precision::FP16 && device.rfind("cuda", 0) != 0)
    throw Error("precision fp16 needs a CUDA device (LibTorch has no fp16 convolutions on the CPU); "
                "on '" + device + "' use fp32 or bf16");
  if (precision == Precision::BF16 && device.rfind("cuda", 0) != 0 && !cpu_runs_bf16_convolutions())
    throw Error("precision bf16: this CPU's kernels have no bf16 convolutions (oneDNN runs them from AVX-512 "
                "on, or ONEDNN_MAX_CPU_ISA caps it below); use fp32");
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

bool configure_allocator() {
  static bool applied = [] {
    // The user's own choice wins: glibc's variables, or DIFFERNET_MALLOC=system to keep its defaults.
    for (const char* name : {"MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_"})
      if (std::getenv(name)) return false;
    const char* choice = std::getenv("DIFFERNET_MALLOC");
    if (choice && std::string(choice) == "system") return false;
    // Large tensors come from the heap (not one mmap each) and freed memory stays in the process,
    // so that the next tensor of the same size does not fault its pages in again.
    return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max()) == 1;
  }();
  return applied;
}

int set_threads(int threads) {
  configure_allocator();
  if (threads < 0) throw Error("threads must be 0 (one per core) or more, got " + std::to_string(threads));
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  return threads;
}

}  // namespace differnet
