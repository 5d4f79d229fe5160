#include "image_file.h"

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "error.h"

namespace differnet {

namespace fs = std::filesystem;

Image read_image(const std::string& path) {
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
