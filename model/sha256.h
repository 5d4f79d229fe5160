// SHA-256 of a file, for the model id (the first 12 hex digits name a model in metadata and logs).
#pragma once
#include <string>

namespace differnet {

std::string sha256_file_hex(const std::string& path);  // throws Error if unreadable

}  // namespace differnet
