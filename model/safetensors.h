// Reading and writing the safetensors container (no LibTorch here): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then raw
// little-endian tensor bytes. Files written here load with Python's safetensors library.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace differnet {

struct StoredTensor {
  std::string dtype;             // "F32", "F16", "I64", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;    // little-endian payload
  int64_t numel() const;
};

struct SafetensorsFile {
  std::map<std::string, StoredTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads and checks the whole container: header length, JSON syntax, dtypes, shapes against byte
// counts, offsets in bounds and non-overlapping, no bytes left over. Throws Error naming `path`.
SafetensorsFile read_safetensors(const std::string& path);

// Writes atomically: a temporary file beside `path`, flushed, then renamed over it.
// Writes to a temporary file beside the target, then renames it over the target. Through a symbolic
// link the file it points to is replaced; a path that exists and is not a regular file is refused.
void write_safetensors(const std::string& path, const SafetensorsFile& file);
// The file write_safetensors(path) would replace; throws Error for a non-regular file.
std::string output_target(const std::string& path);
// Throws Error (naming the reason) unless a file can be created where write_safetensors(path) writes.
void check_writable(const std::string& path);

// Size in bytes of one element of a safetensors dtype, 0 if unknown.
int dtype_size(const std::string& dtype);

}  // namespace differnet
