#include "dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "error.h"
#include "image_file.h"
#include "preprocess.h"
#include "tiling.h"

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

std::vector<at::Tensor> load_resized_tiles(const std::string& path, int size, const std::string& tiles, double overlap) {
  if (tiles == "1x1") return {load_resized(path, size)};
  Image img = read_image(path);
  const TileGrid grid = tiles == "auto" ? auto_grid(img.width, img.height, size, overlap) : TileGrid::parse(tiles, overlap);
  std::vector<at::Tensor> out;
  try {
    for (const Region& t : tile_regions(Region{0, 0, img.width, img.height}, grid))
      out.push_back(resize_antialiased(frame_to_rgb(img.view(), t), size).to(at::kByte));
  } catch (const Error& e) {
    throw Error("'" + path + "': " + e.what());
  }
  return out;
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
