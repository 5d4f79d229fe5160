// SHA-256 of a file, for the model id (the first 12 hex digits name a model in metadata and logs).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace differnet {

std::string sha256_file_hex(const std::string& path);  // throws Error if unreadable

// SHA-256 of the concatenation of byte ranges (a model file's tensor data, in file order).
struct ByteRange {
  const void* data;
  size_t size;
};
std::string sha256_hex(const std::vector<ByteRange>& parts);

}  // namespace differnet
