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

// Reads an image and resizes it as the method does: [1,3,size,size] uint8, RGB (gray replicated).
// Throws Error naming the file when it cannot be read.
at::Tensor load_resized(const std::string& path, int size);

// Loads many, calling `progress(done)` after each.
std::vector<at::Tensor> load_resized_all(const std::vector<std::string>& paths, int size,
                                         const std::function<void(int)>& progress = {});

}  // namespace differnet
