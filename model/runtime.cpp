#include "runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/Version.h>
#ifdef DIFFERNET_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <thread>

#include "backbone.h"
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

CpuArithmetic cpu_arithmetic() {
  static const CpuArithmetic info = [] {
    CpuArithmetic a;
    // ATen reports the kernels it dispatches to (after ATEN_CPU_CAPABILITY) only in its build
    // summary: "CPU capability usage: AVX2".
    const std::string config = at::show_config();
    const std::string key = "CPU capability usage: ";
    const auto at_key = config.find(key);
    a.aten_capability = "unknown";
    if (at_key != std::string::npos) {
      const auto start = at_key + key.size();
      a.aten_capability = config.substr(start, config.find('\n', start) - start);
      for (char& ch : a.aten_capability) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (a.aten_capability == "no avx") a.aten_capability = "default";
    }
#ifdef DIFFERNET_HAVE_ONEDNN
    // The effective ISA is a bit set: each level holds the bits of those below it.
    const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
    auto has = [&](dnnl_cpu_isa_t level) { return (isa & level) == static_cast<unsigned>(level); };
    a.amx = has(dnnl_cpu_isa_avx512_core_amx);
    a.avx512_bf16 = has(dnnl_cpu_isa_avx512_core_bf16);
    a.vnni = has(dnnl_cpu_isa_avx512_core_vnni) || has(dnnl_cpu_isa_avx2_vnni);
    a.int8_full_range = has(dnnl_cpu_isa_avx512_core_vnni);
    a.onednn_isa = a.amx ? "avx512_core_amx" : a.avx512_bf16 ? "avx512_core_bf16"
                   : has(dnnl_cpu_isa_avx512_core_vnni) ? "avx512_core_vnni"
                   : has(dnnl_cpu_isa_avx512_core) ? "avx512_core"
                   : has(dnnl_cpu_isa_avx2_vnni) ? "avx2_vnni"
                   : has(dnnl_cpu_isa_avx2) ? "avx2"
                   : has(dnnl_cpu_isa_avx) ? "avx"
                   : has(dnnl_cpu_isa_sse41) ? "sse41" : "none";
#else
    a.onednn_isa = "unknown";
#endif
    return a;
  }();
  return info;
}

AutoPrecision auto_precision(const std::string& device, const std::string& architecture) {
  AutoPrecision p;
  if (device.rfind("cuda", 0) == 0) {
    p.backbone = Precision::FP16;
    p.flow = FlowPrecision::FP32;
    p.reason = "CUDA: fp16 backbone, fp32 flow";
    return p;
  }
  const CpuArithmetic cpu = cpu_arithmetic();
  const std::string isa = "oneDNN " + cpu.onednn_isa + ", ATen " + cpu.aten_capability;
  // ATen's own kernels (pooling, activations, quantizing the flow's inputs) run the reduced types
  // too: without their vector code ("default") they would be slower than fp32.
  const bool vector = cpu.aten_capability != "default";
  const bool bf16 = vector && cpu.amx && cpu_runs_bf16_convolutions();
  const bool int8 = vector && cpu.vnni;
  // An int8 backbone where the architecture has one (docs/benchmarks/precision.md measures it with
  // VNNI); on AMX too, where AlexNet's int8 pass is faster than its bf16 one (11.8 against 14.5 ms at
  // T = 1, one thread, the same page).
  const bool int8_backbone = int8 && !architecture.empty() && Backbone::runs_int8(architecture);
  p.backbone = int8_backbone ? Precision::INT8 : bf16 ? Precision::BF16 : Precision::FP32;
  p.flow = int8 ? FlowPrecision::INT8 : FlowPrecision::FP32;
  p.reason = isa + ": " + (int8_backbone ? "int8 backbone (VNNI, " + architecture + ")"
                           : bf16        ? std::string("bf16 backbone (AMX)")
                           : !vector     ? std::string("fp32 (ATen without vector kernels)")
                                         : std::string("fp32 backbone (no AMX)")) +
             (vector ? std::string(", ") + (int8 ? "int8 flow (VNNI)" : "fp32 flow (no VNNI)") : "");
  return p;
}

std::vector<Precision> runnable_precisions(const std::string& device, const std::string& architecture) {
  if (device.rfind("cuda", 0) == 0) return {Precision::FP32, Precision::FP16, Precision::BF16};
  std::vector<Precision> out = {Precision::FP32};
  if (cpu_runs_bf16_convolutions()) out.push_back(Precision::BF16);
  if (!architecture.empty() && Backbone::runs_int8(architecture) && select_quantized_engine()) out.push_back(Precision::INT8);
  return out;
}

std::vector<FlowPrecision> runnable_flow_precisions(const std::string& device) {
  if (device.rfind("cuda", 0) == 0) return {FlowPrecision::FP32, FlowPrecision::BF16};
  if (cpu_runs_bf16_convolutions()) return {FlowPrecision::FP32, FlowPrecision::BF16, FlowPrecision::INT8};
  return {FlowPrecision::FP32, FlowPrecision::INT8};
}

void check_precision(const std::string& device, Precision precision) {
  if (precision == Precision::FP16 && device.rfind("cuda", 0) != 0)
    throw Error("precision fp16 needs a CUDA device (LibTorch has no fp16 convolutions on the CPU); "
                "on '" + device + "' use fp32 or bf16");
  if (precision == Precision::BF16 && device.rfind("cuda", 0) != 0 && !cpu_runs_bf16_convolutions())
    throw Error("precision bf16: this CPU's kernels have no bf16 convolutions (oneDNN runs them from AVX-512 "
                "on, or ONEDNN_MAX_CPU_ISA caps it below); use fp32");
  if (precision == Precision::INT8 && device.rfind("cuda", 0) == 0)
    throw Error("precision int8 runs on the CPU only (on '" + device + "' use fp16)");
}

bool select_quantized_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  for (at::QEngine e : {at::QEngine::FBGEMM, at::QEngine::ONEDNN, at::QEngine::QNNPACK})
    if (std::find(engines.begin(), engines.end(), e) != engines.end()) {
      if (at::globalContext().qEngine() != e) at::globalContext().setQEngine(e);
      return true;
    }
  return false;
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
