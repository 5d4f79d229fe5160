// Finding images in folders; reading and writing them is in image_codec_{opencv,stb}.cpp.
#include "image_file.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "error.h"

namespace differnet {

namespace fs = std::filesystem;

std::vector<std::string> find_images(const std::vector<std::string>& paths, const std::vector<std::string>& extensions) {
  auto wanted = [&](const fs::path& p) {
    std::string ext = p.extension().string();
    if (!ext.empty()) ext = ext.substr(1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
  };
  std::vector<std::string> out;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::follow_directory_symlink, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) throw Error("cannot list folder '" + path + "': " + ec.message());
        if (it->is_regular_file() && wanted(it->path())) out.push_back(it->path().string());
      }
      if (ec) throw Error("cannot list folder '" + path + "': " + ec.message());
    } else if (fs::is_regular_file(path, ec)) {
      out.push_back(path);
    } else {
      throw Error("'" + path + "' is neither an image file nor a folder");
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_not_truncated(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // the decoder says why it cannot be read
  unsigned char head[8] = {};
  in.read(reinterpret_cast<char*>(head), 8);
  if (in.gcount() < 8) return;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff tail_len = std::min<std::streamoff>(size, 64);
  std::string tail(static_cast<size_t>(tail_len), '\0');
  in.seekg(size - tail_len);
  in.read(tail.data(), tail_len);
  const bool jpeg = head[0] == 0xFF && head[1] == 0xD8;
  const bool png = head[0] == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G';
  if (jpeg && tail.find("\xFF\xD9") == std::string::npos)
    throw Error("image '" + path + "' is truncated (its JPEG data has no end marker)");
  if (png && tail.find("IEND") == std::string::npos)
    throw Error("image '" + path + "' is truncated (its PNG data has no IEND chunk)");
}

std::pair<int, int> image_header_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {0, 0};
  unsigned char h[32] = {};
  in.read(reinterpret_cast<char*>(h), sizeof h);
  if (in.gcount() < 26) return {0, 0};
  auto be32 = [](const unsigned char* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; };
  auto le32 = [](const unsigned char* p) { return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | p[0]; };
  auto clamp = [](uint64_t v) { return static_cast<int>(std::min<uint64_t>(v, INT32_MAX)); };
  if (h[0] == 0x89 && h[1] == 'P' && h[2] == 'N' && h[3] == 'G')  // IHDR: width, height at 16, 20
    return {clamp(be32(h + 16)), clamp(be32(h + 20))};
  if (h[0] == 'B' && h[1] == 'M') {  // BITMAPINFOHEADER: width, height (negative: top-down) at 18, 22
    const int32_t w = static_cast<int32_t>(le32(h + 18)), ht = static_cast<int32_t>(le32(h + 22));
    return {clamp(static_cast<uint64_t>(std::llabs(w))), clamp(static_cast<uint64_t>(std::llabs(ht)))};
  }
  if (h[0] == 'G' && h[1] == 'I' && h[2] == 'F') return {h[6] | (h[7] << 8), h[8] | (h[9] << 8)};
  if (h[0] == 0xFF && h[1] == 0xD8) {  // JPEG: the first start-of-frame segment's height and width
    in.clear();
    in.seekg(2);
    for (int segments = 0; segments < 10000; ++segments) {
      unsigned char m[4];
      if (!in.read(reinterpret_cast<char*>(m), 2) || m[0] != 0xFF) return {0, 0};
      if (m[1] == 0xFF) { in.seekg(-1, std::ios::cur); continue; }  // fill byte
      if (m[1] == 0xD8 || m[1] == 0x01 || (m[1] >= 0xD0 && m[1] <= 0xD7)) continue;  // no length
      if (!in.read(reinterpret_cast<char*>(m + 2), 2)) return {0, 0};
      const int length = (m[2] << 8) | m[3];
      if (length < 2) return {0, 0};
      const bool sof = m[1] >= 0xC0 && m[1] <= 0xCF && m[1] != 0xC4 && m[1] != 0xC8 && m[1] != 0xCC;
      if (sof) {
        unsigned char f[5];
        if (!in.read(reinterpret_cast<char*>(f), 5)) return {0, 0};
        return {(f[3] << 8) | f[4], (f[1] << 8) | f[2]};
      }
      in.seekg(length - 2, std::ios::cur);
    }
  }
  return {0, 0};
}

void check_image_pixels(const std::string& what, int64_t width, int64_t height) {
  if (width * height > kMaxImagePixels)
    throw Error(what + " is " + std::to_string(width) + "x" + std::to_string(height) + " pixels (" +
                std::to_string(width * height / 1000000) + " MP), more than the " +
                std::to_string(kMaxImagePixels / 1000000) +
                " MP that are taken (memory would grow with the image, not the model): downscale it first, "
                "or crop the part to inspect");
}

}  // namespace differnet
