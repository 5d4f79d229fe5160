// Image reading and writing through OpenCV (the default backend: every format OpenCV decodes).
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <fstream>

#include "error.h"
#include "image_file.h"

namespace differnet {

Image read_image(const std::string& path) {
  check_not_truncated(path);
  const auto [width, height] = image_header_size(path);
  int flags = cv::IMREAD_COLOR;  // 3-channel BGR, 8-bit, gray replicated
  if (static_cast<int64_t>(width) * height > kMaxImagePixels) {
    std::ifstream in(path, std::ios::binary);
    const bool jpeg = in.get() == 0xFF && in.get() == 0xD8;
    int factor = 0;  // libjpeg scales by 1/2, 1/4, 1/8 while it decodes: the full image never exists
    for (int f : {2, 4, 8})
      if (jpeg && !factor && static_cast<int64_t>(width / f) * (height / f) <= kMaxImagePixels) factor = f;
    if (!factor) check_image_pixels("image '" + path + "'", width, height);
    flags = factor == 2 ? cv::IMREAD_REDUCED_COLOR_2 : factor == 4 ? cv::IMREAD_REDUCED_COLOR_4 : cv::IMREAD_REDUCED_COLOR_8;
    std::fprintf(stderr, "note: image '%s' is %dx%d pixels, over the %lld MP taken: decoded at 1/%d\n", path.c_str(),
                 width, height, static_cast<long long>(kMaxImagePixels / 1000000), factor);
  }
  cv::Mat mat = cv::imread(path, flags);
  if (mat.empty()) throw Error("image '" + path + "' cannot be read (missing, unreadable or not an image)");
  check_image_pixels("image '" + path + "'", mat.cols, mat.rows);  // (a format whose header was not read)
  cv::cvtColor(mat, mat, cv::COLOR_BGR2RGB);
  Image img;
  img.width = mat.cols;
  img.height = mat.rows;
  img.pixels.resize(static_cast<size_t>(mat.cols) * mat.rows * 3);
  for (int y = 0; y < mat.rows; ++y)
    std::copy(mat.ptr<uint8_t>(y), mat.ptr<uint8_t>(y) + mat.cols * 3, img.pixels.data() + static_cast<size_t>(y) * mat.cols * 3);
  return img;
}

void write_image(const std::string& path, const Image& image) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, bgr);
  } catch (const cv::Exception& e) {
    throw Error("image '" + path + "' cannot be written: " + e.what());
  }
  if (!ok) throw Error("image '" + path + "' cannot be written");
}

}  // namespace differnet
