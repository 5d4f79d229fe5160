// Image reading and writing through OpenCV (the default backend: every format OpenCV decodes).
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "error.h"
#include "image_file.h"

namespace differnet {

Image read_image(const std::string& path) {
  check_not_truncated(path);
  cv::Mat mat = cv::imread(path, cv::IMREAD_COLOR);  // 3-channel BGR, 8-bit, gray replicated
  if (mat.empty()) throw Error("image '" + path + "' cannot be read (missing, unreadable or not an image)");
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
