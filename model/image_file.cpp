// Finding images in folders; reading and writing them is in image_codec_{opencv,stb}.cpp.
#include "image_file.h"

#include <algorithm>
#include <fstream>
#include <filesystem>

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

}  // namespace differnet
