#include "safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "json_checked.h"

namespace differnet {

namespace {
constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit is 100 MB

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw Error("model file '" + path + "': " + why);
}
}  // namespace

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > INT64_MAX / d) return -1;  // would overflow: callers treat -1 as "too large"
    n *= d;
  }
  return n;
}

int dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "U8" || dtype == "I8" || dtype == "BOOL") return 1;
  return 0;
}

SafetensorsFile read_safetensors(const std::string& path) {
  // stat first: a directory "opens" as a stream of garbage and a FIFO blocks the open itself.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot be opened: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a model file");
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file (a pipe, socket or device cannot hold a model)");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot be opened: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) fail(path, "too short to be a safetensors file (" + std::to_string(file_size) + " bytes)");
  uint8_t len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len == 0 || header_len > kMaxHeaderBytes || header_len > file_size - 8)
    fail(path, "header length " + std::to_string(header_len) + " does not fit a file of " +
                   std::to_string(file_size) + " bytes (truncated or not a safetensors file)");
  std::string header_text(header_len, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const std::exception& e) {
    fail(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  SafetensorsFile out;
  const uint64_t data_size = file_size - 8 - header_len;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& info = it.value();
    if (name == "__metadata__") {
      if (!info.is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = info.begin(); m != info.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ entry '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    try {
      StoredTensor t;
      t.dtype = info.at("dtype").get<std::string>();
      t.shape = json_int_array<int64_t>(info.at("shape"), INT64_MIN, INT64_MAX);
      auto offsets = json_int_array<uint64_t>(info.at("data_offsets"), 0, INT64_MAX);
      const int elem = dtype_size(t.dtype);
      if (elem == 0) fail(path, "tensor '" + name + "' has unknown dtype " + t.dtype);
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        fail(path, "tensor '" + name + "' lies outside the file (truncated?)");
      for (int64_t d : t.shape)
        if (d < 0) fail(path, "tensor '" + name + "' has a negative dimension");
      // Checked before anything is allocated: a shape claiming more bytes than the file holds is refused.
      const int64_t count = t.numel();
      if (count < 0 || static_cast<uint64_t>(count) > data_size / static_cast<uint64_t>(elem))
        fail(path, "tensor '" + name + "' claims more data than the file holds");
      if (static_cast<uint64_t>(count) * elem != offsets[1] - offsets[0])
        fail(path, "tensor '" + name + "' has " + std::to_string(offsets[1] - offsets[0]) +
                       " bytes, its shape and dtype need " + std::to_string(t.numel() * elem));
      ranges.emplace_back(offsets[0], offsets[1]);
      t.bytes.resize(offsets[1] - offsets[0]);
      in.seekg(static_cast<std::streamoff>(8 + header_len + offsets[0]));
      in.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
      if (!in) fail(path, "tensor '" + name + "' could not be read (truncated?)");
      out.tensors.emplace(name, std::move(t));
    } catch (const nlohmann::json::exception& e) {
      fail(path, "tensor '" + name + "' has a malformed header entry (" + e.what() + ")");
    }
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t end = 0;
  for (const auto& r : ranges) {
    if (r.first < end) fail(path, "tensor data ranges overlap");
    end = r.second;
  }
  if (end != data_size)
    fail(path, "tensor data covers " + std::to_string(end) + " of " + std::to_string(data_size) +
                   " bytes (extra or missing data)");
  return out;
}

std::string output_target(const std::string& path) {
  // Through a symlink, the file it points to is replaced (the link stays); anything but a regular
  // file (a device, a FIFO, a directory) is never replaced by a rename.
  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real) {
      target = real;
      std::free(real);
    } else {  // a dangling link: write where it points
      std::vector<char> buf(4096);
      const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
      if (n <= 0) throw Error("cannot follow the symbolic link '" + path + "': " + std::strerror(errno));
      std::string dest(buf.data(), static_cast<size_t>(n));
      const size_t slash = path.rfind('/');
      target = dest.front() == '/' || slash == std::string::npos ? dest : path.substr(0, slash + 1) + dest;
    }
  }
  if (::stat(target.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw Error("'" + path + "' exists and is not a regular file; refusing to replace it with a model file");
  return target;
}

void check_writable(const std::string& path) {
  const std::string target = output_target(path);
  const std::string probe = target + ".probe." + std::to_string(::getpid());
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps tensor data 8-byte aligned

  const std::string target = output_target(path);
  const std::string tmp = target + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + tmp + "': " + std::strerror(errno));
    uint8_t len_bytes[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : file.tensors)
      out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error("writing '" + tmp + "' failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("cannot move '" + tmp + "' to '" + target + "': " + why);
  }
}

}  // namespace differnet
