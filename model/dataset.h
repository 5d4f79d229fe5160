// Image sets on disk for training, calibration and evaluation: selection by extension and by lists
// of file names, and loading into resized 8-bit tensors.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace differnet {

// File names listed one per line (blank lines and '#' comments ignored; any folder part is dropped).
std::vector<std::string> read_name_list(const std::string& path);

// Keeps (keep = true) or drops the paths whose file name is in `names`.
std::vector<std::string> filter_by_names(const std::vector<std::string>& paths, const std::vector<std::string>& names,
                                         bool keep);

// The images the tools take: files and folders (searched recursively for `extensions`), then kept
// when named in the list file `include_list` and dropped when named in `exclude_list` (either "" for none).
std::vector<std::string> select_images(const std::vector<std::string>& inputs, const std::vector<std::string>& extensions,
                                       const std::string& include_list, const std::string& exclude_list);

// Reads an image and resizes it as the method does: [1,3,size,size] uint8, RGB (gray replicated).
// Throws Error naming the file when it cannot be read.
at::Tensor load_resized(const std::string& path, int size);

// The tiles of an image (`tiles` "CxR", "auto" or "1x1", model/tiling.h), each resized as above:
// one [1,3,size,size] uint8 tensor per tile, row-major. "1x1" gives load_resized's one tensor.
std::vector<at::Tensor> load_resized_tiles(const std::string& path, int size, const std::string& tiles, double overlap);

// Loads many, calling `progress(done)` after each.
std::vector<at::Tensor> load_resized_all(const std::vector<std::string>& paths, int size,
                                         const std::function<void(int)>& progress = {});

}  // namespace differnet
