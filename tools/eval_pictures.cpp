#include "eval_pictures.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "error.h"

namespace differnet {

namespace {

cv::Mat to_mat(const at::Tensor& levels) {  // [1,3,S,S] uint8 -> BGR Mat
  at::Tensor hwc = levels[0].permute({1, 2, 0}).contiguous().to(at::kByte);
  cv::Mat rgb(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3, hwc.data_ptr<uint8_t>());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

void write_png(const std::string& path, const cv::Mat& img) {
  if (!cv::imwrite(path, img)) throw Error("cannot write '" + path + "'");
}

}  // namespace

void write_heatmap_picture(const at::Tensor& levels, const at::Tensor& heatmap, const std::string& caption,
                           const std::string& path) {
  at::Tensor map = heatmap.to(at::kCPU, at::kFloat);
  map = (map - map.min()) / (map.max() - map.min() + 1e-12);
  at::Tensor u8 = (map * 255).round().to(at::kByte).contiguous();
  cv::Mat gray(static_cast<int>(u8.size(0)), static_cast<int>(u8.size(1)), CV_8UC1, u8.data_ptr<uint8_t>());
  cv::Mat color, image = to_mat(levels), blend, side;
  cv::applyColorMap(gray, color, cv::COLORMAP_JET);
  cv::addWeighted(image, 0.5, color, 0.5, 0, blend);
  cv::hconcat(image, blend, side);
  cv::putText(side, caption, {8, 24}, cv::FONT_HERSHEY_SIMPLEX, 0.7, {255, 255, 255}, 2);
  write_png(path, side);
}

void write_roc_picture(const std::vector<RocPoint>& curve, double auc, const std::string& path) {
  const int size = 400, m = 40;
  cv::Mat img(size + 2 * m, size + 2 * m, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::rectangle(img, {m, m}, {m + size, m + size}, {0, 0, 0});
  cv::line(img, {m, m + size}, {m + size, m}, {200, 200, 200});
  for (size_t i = 1; i < curve.size(); ++i) {
    auto pt = [&](const RocPoint& p) {
      return cv::Point(m + static_cast<int>(p.false_positive_rate * size), m + size - static_cast<int>(p.true_positive_rate * size));
    };
    cv::line(img, pt(curve[i - 1]), pt(curve[i]), {200, 60, 0}, 2);
  }
  char text[64];
  std::snprintf(text, sizeof text, "ROC AUC %.4f", auc);
  cv::putText(img, text, {m + 10, m + 25}, cv::FONT_HERSHEY_SIMPLEX, 0.6, {0, 0, 0}, 1);
  cv::putText(img, "false positive rate", {m + size / 2 - 80, m + size + 28}, cv::FONT_HERSHEY_SIMPLEX, 0.5, {0, 0, 0}, 1);
  cv::putText(img, "true positive rate", {4, m - 10}, cv::FONT_HERSHEY_SIMPLEX, 0.5, {0, 0, 0}, 1);
  write_png(path, img);
}

}  // namespace differnet
