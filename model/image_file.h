// Reading images from disk (OpenCV, or stb_image where OpenCV is missing: meson -Dimage_io) and
// finding them in folders, for the tools and the trainer.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "frame.h"

namespace differnet {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // RGB, rows packed
  FrameView view() const { return FrameView{pixels.data(), width, height, width * 3, PixelFormat::RGB}; }
};

// The largest image or frame, in pixels, that the tools, the trainer and learn mode take: 64 MP
// (8192 x 8192, a 16384 x 4096 line-scan strip). Decoding and converting such an image to the
// network's input needs about 15 bytes a pixel (1 GB at the cap), so the cap, not the file, bounds
// the memory; a larger image is refused before it is decoded (a JPEG is decoded at 1/2, 1/4 or 1/8).
constexpr int64_t kMaxImagePixels = int64_t{8192} * 8192;

// The width and height a PNG, JPEG, BMP or GIF file's header declares, read without decoding;
// {0, 0} for other formats or a header that cannot be read.
std::pair<int, int> image_header_size(const std::string& path);

// Throws Error naming `what` when width x height exceeds kMaxImagePixels.
void check_image_pixels(const std::string& what, int64_t width, int64_t height);

// Reads any format OpenCV decodes; gray and 16-bit images become 8-bit RGB. Throws Error naming the
// file, also for an image over kMaxImagePixels (checked from its header before decoding); a JPEG over
// it is decoded at the largest of 1/2, 1/4, 1/8 that fits, with a note on stderr.
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
