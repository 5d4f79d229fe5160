// Image reading and writing through stb_image (Debian's libstb-dev), for builds on machines without
// OpenCV's development files (the GPU check machine): PNG, JPEG, BMP, TGA, GIF, PNM read; PNG, JPEG
// and BMP written. JPEG decoding may differ from OpenCV's libjpeg by a level on some pixels.
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

#include "error.h"
#include "image_file.h"

namespace differnet {

Image read_image(const std::string& path) {
  check_not_truncated(path);
  int width = 0, height = 0, channels = 0;
  if (stbi_info(path.c_str(), &width, &height, &channels))  // the header only, before any decoding
    check_image_pixels("image '" + path + "'", width, height);
  // 3 channels asked for: gray is replicated, alpha dropped; 16-bit images come back as 8-bit.
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &width, &height, &channels, 3), stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw Error("image '" + path + "' cannot be read (missing, unreadable or not an image" +
                (why ? std::string(": ") + why : std::string()) + ")");
  }
  Image img;
  img.width = width;
  img.height = height;
  img.pixels.assign(data.get(), data.get() + static_cast<size_t>(width) * height * 3);
  return img;
}

void write_image(const std::string& path, const Image& image) {
  std::string ext = path.substr(path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.') + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  const uint8_t* px = image.pixels.data();
  int ok = 0;
  if (ext == "png")
    ok = stbi_write_png(path.c_str(), image.width, image.height, 3, px, image.width * 3);
  else if (ext == "jpg" || ext == "jpeg")
    ok = stbi_write_jpg(path.c_str(), image.width, image.height, 3, px, 95);
  else if (ext == "bmp")
    ok = stbi_write_bmp(path.c_str(), image.width, image.height, 3, px);
  else
    throw Error("image '" + path + "' cannot be written: this build (stb_image) writes .png, .jpg and .bmp only");
  if (!ok) throw Error("image '" + path + "' cannot be written");
}

}  // namespace differnet
