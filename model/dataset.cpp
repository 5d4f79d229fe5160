#include "dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "error.h"
#include "image_file.h"
#include "preprocess.h"

namespace differnet {

std::vector<std::string> read_name_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("list file '" + path + "' cannot be read");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    line.erase(line.find_last_not_of(" \t\r\n") + 1);
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.empty() || line[0] == '#') continue;
    names.push_back(std::filesystem::path(line).filename().string());
  }
  return names;
}

std::vector<std::string> filter_by_names(const std::vector<std::string>& paths, const std::vector<std::string>& names,
                                         bool keep) {
  const std::set<std::string> set(names.begin(), names.end());
  std::vector<std::string> out;
  for (const auto& p : paths)
    if (set.count(std::filesystem::path(p).filename().string()) == (keep ? 1u : 0u)) out.push_back(p);
  return out;
}

std::vector<std::string> select_images(const std::vector<std::string>& inputs, const std::vector<std::string>& extensions,
                                       const std::string& include_list, const std::string& exclude_list) {
  std::vector<std::string> paths = find_images(inputs, extensions);
  if (!include_list.empty()) paths = filter_by_names(paths, read_name_list(include_list), true);
  if (!exclude_list.empty()) paths = filter_by_names(paths, read_name_list(exclude_list), false);
  return paths;
}

at::Tensor load_resized(const std::string& path, int size) {
  Image img = read_image(path);
  return resize_antialiased(frame_to_rgb(img.view(), Region{}), size).to(at::kByte);
}

std::vector<at::Tensor> load_resized_all(const std::vector<std::string>& paths, int size,
                                         const std::function<void(int)>& progress) {
  std::vector<at::Tensor> out;
  out.reserve(paths.size());
  for (const auto& p : paths) {
    out.push_back(load_resized(p, size));
    if (progress) progress(static_cast<int>(out.size()));
  }
  return out;
}

}  // namespace differnet
