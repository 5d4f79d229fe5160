// libFuzzer target: a model file's container and metadata, as load_model reads them before any
// tensor reaches LibTorch: the safetensors container (header length, JSON, dtypes, shapes,
// offsets, overlaps), __metadata__, the configuration and calibration JSON, and the tensor digest.
// Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "config.h"
#include "error.h"
#include "safetensors.h"
#include "sha256.h"

namespace {
std::string scratch_path() {
  const char* dir = std::getenv("FUZZ_SCRATCH_DIR");
  return std::string(dir ? dir : "/tmp") + "/differnet-fuzz-" + std::to_string(::getpid()) + ".safetensors";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scratch_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    differnet::SafetensorsFile file = differnet::read_safetensors(path);
    std::vector<differnet::ByteRange> parts;
    for (const auto& [name, t] : file.tensors) {
      if (t.bytes.size() != static_cast<size_t>(t.numel()) * differnet::dtype_size(t.dtype)) __builtin_trap();
      parts.push_back({t.bytes.data(), t.bytes.size()});
    }
    differnet::sha256_hex(parts);
    auto it = file.metadata.find("config");
    if (it != file.metadata.end()) {
      differnet::ModelConfig c = differnet::ModelConfig::from_json(it->second);
      if (c.feature_dim() < 2) __builtin_trap();  // validate() must have refused it
    }
    it = file.metadata.find("calibration");
    if (it != file.metadata.end()) {
      const differnet::Calibration k = differnet::Calibration::from_json(it->second);
      // validate() must have refused a calibrated block without a positive finite threshold or T >= 1
      if (k.calibrated && (!(k.threshold > 0) || !std::isfinite(k.threshold) || k.transforms < 1)) __builtin_trap();
    }
  } catch (const differnet::Error&) {
  }
  return 0;
}
