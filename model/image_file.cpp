// Finding images in folders; reading and writing them is in image_codec_{opencv,stb}.cpp.
#include "image_file.h"

#include <algorithm>
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

}  // namespace differnet
