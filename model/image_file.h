// Reading images from disk (OpenCV, or stb_image where OpenCV is missing: meson -Dimage_io) and
// finding them in folders, for the tools and the trainer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "frame.h"

namespace differnet {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // RGB, rows packed
  FrameView view() const { return FrameView{pixels.data(), width, height, width * 3, PixelFormat::RGB}; }
};

// Reads any format OpenCV decodes; gray and 16-bit images become 8-bit RGB. Throws Error naming the file.
Image read_image(const std::string& path);
// Throws Error naming the file when a JPEG or PNG file lacks its end marker (a truncated file, which
// the decoders would otherwise read with a grey or black remainder and only a warning on stderr).
void check_not_truncated(const std::string& path);
// Writes RGB pixels as PNG (or by extension); throws Error naming the file.
void write_image(const std::string& path, const Image& image);

// Files under each path (a file is taken as it is, a folder searched recursively) whose extension is
// one of `extensions` (lower case, no dot; case-insensitive match), sorted by path.
std::vector<std::string> find_images(const std::vector<std::string>& paths, const std::vector<std::string>& extensions);

}  // namespace differnet
