// Where and how LibTorch runs: the device named by a user ("auto", "cpu", "cuda", "cuda:N") and the
// number of CPU threads (LibTorch starts with 1 on Debian; 0 here means one per core).
#pragma once
#include <string>

namespace differnet {

// Checks a device name and resolves "auto"; returns the canonical name ("cpu", "cuda:0", ...).
// Asking for CUDA where there is none is an Error, never a silent fallback to the CPU.
std::string resolve_device(const std::string& requested);
bool cuda_available();
int cuda_device_count();

// Sets LibTorch's intra-op thread count; 0 = the number of cores. Returns the count set.
int set_threads(int threads);

}  // namespace differnet
