// Where and how LibTorch runs: the device named by a user ("auto", "cpu", "cuda", "cuda:N"), the
// number of CPU threads (LibTorch starts with 1 on Debian; 0 here means one per core), the numeric
// precision of the backbone, and the CUDA switches that go with it.
#pragma once
#include <string>
#include <vector>

#include "device_name.h"

namespace differnet {

// Checks a device name and resolves "auto"; returns the canonical name ("cpu", "cuda:0", ...).
// Asking for CUDA where there is none is an Error, never a silent fallback to the CPU.
std::string resolve_device(const std::string& requested);
bool cuda_available();
int cuda_device_count();

// Sets LibTorch's intra-op thread count; 0 = the number of cores. Returns the count set. Calls
// configure_allocator() first (every tool and the Detector come through here).
int set_threads(int threads);

// Makes glibc keep freed memory in the process (mallopt: no mmap per large block, no trimming), as
// MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<large> would: LibTorch frees and allocates tensors of
// the same sizes on every frame, and without it each one faults its pages in again (a 448-px
// backbone pass 166 -> 37 ms on a VM). Costs peak memory (freed blocks are kept). Process-wide;
// done once; skipped when the user set glibc's MALLOC_* variables or DIFFERNET_MALLOC=system.
// Returns whether it was applied.
bool configure_allocator();

// Precision, parse_precision and precision_name: device_name.h.
// Throws Error where `device` cannot run `precision` (fp16 convolutions exist on CUDA only; bf16 on
// the CPU where its kernels run bf16 convolutions; int8 on the CPU only, and only for the
// architectures Backbone::set_int8 accepts).
void check_precision(const std::string& device, Precision precision);
// Whether LibTorch's CPU kernels run bf16 convolutions and matrix products here (a probe, once).
bool cpu_runs_bf16_convolutions();

// What this CPU's kernels run in hardware, as the libraries that run them report it (each honours
// its capping variable: ONEDNN_MAX_CPU_ISA for oneDNN, ATEN_CPU_CAPABILITY for ATen's own kernels).
struct CpuArithmetic {
  std::string onednn_isa;       // oneDNN's effective instruction set, e.g. "avx512_core_bf16"; "unknown"
                                // where the build has no oneDNN headers
  std::string aten_capability;  // ATen's vector kernels in use: "default" (none), "avx2", "avx512"
  bool amx = false;             // AMX tiles with bf16 and int8 (oneDNN runs bf16 convolutions on them)
  bool avx512_bf16 = false;     // AVX512-BF16 instructions
  bool vnni = false;            // int8 dot products (AVX512-VNNI or AVX-VNNI): oneDNN's int8 matrix products
  // Whether int8 may use all 8 bits of weights and inputs: where oneDNN's int8 kernels certainly add
  // their products in 32 bits (AVX512-VNNI). Elsewhere (AVX2, AVX-512 without VNNI, and AVX-VNNI,
  // whose use by every int8 kernel of oneDNN 2.6 is not certain) products are added in pairs in 16
  // bits and would saturate: the int8 backbone's weights and the int8 flow's inputs take 7 bits.
  bool int8_full_range = false;
};
CpuArithmetic cpu_arithmetic();

// The precisions "auto" resolves to on `device` (a resolved name: "cpu", "cuda:N"), and why:
//  - backbone: fp16 on CUDA; on a CPU with VNNI int8 for an `architecture` with an int8 forward
//    (AlexNet, the paper's); else bf16 on a CPU with AMX (oneDNN's bf16 convolutions on tiles); fp32
//    elsewhere (AVX512-BF16 alone runs the backbones' bf16 convolutions slower than fp32:
//    docs/benchmarks/precision.md); an empty `architecture` never gets int8;
//  - flow: int8 on a CPU with VNNI (oneDNN's int8 matrix products; the flow reads all its weights
//    per frame, a quarter of them in int8), fp32 elsewhere (on CUDA the flow is a small share);
//  - fp32 for both where ATen runs without vector kernels (ATEN_CPU_CAPABILITY=default).
// The Detector then keeps a precision only where the model holds a threshold computed in it
// (Calibration::arithmetics), so that auto never decides with a threshold of another arithmetic.
struct AutoPrecision {
  Precision backbone = Precision::FP32;
  FlowPrecision flow = FlowPrecision::FP32;
  std::string reason;  // one line, e.g. "AMX and VNNI: bf16 backbone, int8 flow"
};
AutoPrecision auto_precision(const std::string& device, const std::string& architecture = "");

// The precisions a model can be calibrated in on `device` (what check_precision accepts there):
// backbone fp32, bf16 where the CPU's kernels run it, fp16 on CUDA, int8 on the CPU for an
// `architecture` with an int8 forward; flow fp32, bf16, int8 on the CPU.
std::vector<Precision> runnable_precisions(const std::string& device, const std::string& architecture = "");
std::vector<FlowPrecision> runnable_flow_precisions(const std::string& device);

// Selects the best quantized engine this LibTorch has (Debian's: oneDNN, then QNNPACK; no FBGEMM)
// for the int8 flow and backbone; false where it has none. Process-wide; idempotent.
bool select_quantized_engine();

// Sets up a CUDA device for inference: cuDNN picks its fastest convolution algorithms for the
// shapes it sees (autotuning; the warm-up pays for it), and TF32 matrix arithmetic is allowed only
// when `allow_tf32` (off for fp32, so that CUDA agrees with the CPU to 1e-4). Process-wide
// switches of LibTorch; does nothing for the CPU.
void configure_device(const std::string& device, bool allow_tf32);

// Waits until everything queued on `device` has run (a no-op on the CPU), so that a clock read
// after it measures the work and not only its launch.
void synchronize(const std::string& device);

}  // namespace differnet
