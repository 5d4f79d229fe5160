#include "overlay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

namespace differnet::overlay {

namespace {

struct Layout {
  int bpp, r, g, b;  // byte offsets of red, green, blue in a pixel (all 0 for GRAY8)
  bool gray;
};

Layout layout(PixelFormat f) {
  switch (f) {
    case PixelFormat::RGB: return {3, 0, 1, 2, false};
    case PixelFormat::BGR: return {3, 2, 1, 0, false};
    case PixelFormat::RGBx:
    case PixelFormat::RGBA: return {4, 0, 1, 2, false};
    case PixelFormat::BGRx:
    case PixelFormat::BGRA: return {4, 2, 1, 0, false};
    case PixelFormat::GRAY8: return {1, 0, 0, 0, true};
  }
  return {3, 0, 1, 2, false};
}

// An OpenCV view of the frame memory, and a colour in its channel order.
cv::Mat view(const Canvas& c, const Layout& l) {
  return cv::Mat(c.height, c.width, CV_8UC(l.bpp), c.data, static_cast<size_t>(c.stride));
}
cv::Scalar colour(const Layout& l, int r, int g, int b) {
  if (l.gray) return cv::Scalar((r * 299 + g * 587 + b * 114) / 1000);
  double v[4] = {0, 0, 0, 255};
  v[l.r] = r, v[l.g] = g, v[l.b] = b;
  return cv::Scalar(v[0], v[1], v[2], v[3]);
}

void blend_heatmap(const Canvas& c, const Layout& l, const Result& res, const Region& roi, double alpha) {
  cv::Mat map(res.heatmap_height, res.heatmap_width, CV_32FC1, const_cast<float*>(res.heatmap));
  double max_value = 0;
  cv::minMaxLoc(map, nullptr, &max_value);
  if (!(max_value > 0)) return;
  const double strength = std::isnan(res.threshold) || res.threshold <= 0 ? 1.0 : std::min(1.0, res.score / res.threshold);
  // The map is a squared mean |gradient|: its square root spreads the colours over the part instead
  // of a few hot pixels.
  cv::Mat root, scaled, levels, jet;
  cv::sqrt(map, root);
  cv::resize(root, scaled, cv::Size(roi.width, roi.height), 0, 0, cv::INTER_LINEAR);
  scaled.convertTo(levels, CV_8UC1, 255.0 / std::sqrt(max_value));
  cv::applyColorMap(levels, jet, cv::COLORMAP_JET);  // BGR
  for (int y = 0; y < roi.height; ++y) {
    uint8_t* row = c.data + static_cast<size_t>(roi.y + y) * c.stride + static_cast<size_t>(roi.x) * l.bpp;
    const uint8_t* lv = levels.ptr<uint8_t>(y);
    const cv::Vec3b* jc = jet.ptr<cv::Vec3b>(y);
    for (int x = 0; x < roi.width; ++x) {
      const double a = alpha * strength;
      uint8_t* p = row + static_cast<size_t>(x) * l.bpp;
      if (l.gray) {
        p[0] = static_cast<uint8_t>(std::lround(p[0] * (1 - a) + lv[x] * a));
      } else {
        p[l.r] = static_cast<uint8_t>(std::lround(p[l.r] * (1 - a) + jc[x][2] * a));
        p[l.g] = static_cast<uint8_t>(std::lround(p[l.g] * (1 - a) + jc[x][1] * a));
        p[l.b] = static_cast<uint8_t>(std::lround(p[l.b] * (1 - a) + jc[x][0] * a));
      }
    }
  }
}

}  // namespace

void draw(const Canvas& c, const Result& res, bool heatmap, bool text_and_border, double alpha) {
  const Layout l = layout(c.format);
  const Region roi = res.region.whole_frame() ? Region{0, 0, c.width, c.height} : res.region;
  if (heatmap && res.heatmap && res.heatmap_width > 0 && res.heatmap_height > 0 && alpha > 0)
    blend_heatmap(c, l, res, roi, alpha);
  if (!text_and_border) return;
  cv::Mat mat = view(c, l);
  const int thickness = std::max(3, std::min(roi.width, roi.height) / 60);
  const cv::Scalar verdict = res.anomaly ? colour(l, 255, 0, 0) : colour(l, 0, 200, 0);
  const cv::Scalar border = l.gray ? cv::Scalar(res.anomaly ? 255 : 0) : verdict;
  cv::rectangle(mat, cv::Rect(roi.x, roi.y, roi.width, roi.height), border, thickness);
  if (res.anomaly && !res.worst_tile.whole_frame()) {  // where in a wide strip the defect lies
    const Region& t = res.worst_tile;
    cv::rectangle(mat, cv::Rect(t.x, t.y, t.width, t.height), border, std::max(2, thickness / 2));
  }
  const cv::Scalar outline = l.gray ? cv::Scalar(255) : colour(l, 255, 230, 0);
  for (int i = 0; res.defects && i < res.n_defects; ++i) {  // where the defect is
    const cv::Rect r = cv::Rect(res.defects[i].x, res.defects[i].y, res.defects[i].width, res.defects[i].height) &
                       cv::Rect(0, 0, c.width, c.height);
    if (r.empty()) continue;
    cv::rectangle(mat, r, outline, std::max(2, thickness / 2));
    cv::putText(mat, std::to_string(i + 1), cv::Point(r.x + 2, std::max(12, r.y - 4)), cv::FONT_HERSHEY_SIMPLEX,
                std::clamp(roi.width / 1280.0, 0.35, 1.0), outline, 1, cv::LINE_AA);
  }

  char text[96];
  if (std::isnan(res.threshold))
    std::snprintf(text, sizeof text, "score %.3f (no threshold)%s", res.score, res.reused ? " reused" : "");
  else
    std::snprintf(text, sizeof text, "%s %.3f / %.3f%s", res.anomaly ? "ANOMALY" : "OK", res.score, res.threshold,
                  res.reused ? " reused" : "");
  const double scale = std::clamp(roi.width / 640.0, 0.35, 1.5);
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
  const cv::Point origin(roi.x + thickness + 4, roi.y + thickness + 4 + size.height);
  cv::rectangle(mat, cv::Rect(origin.x - 3, origin.y - size.height - 3, size.width + 6, size.height + baseline + 6),
                colour(l, 0, 0, 0), cv::FILLED);
  const cv::Scalar text_colour = l.gray ? cv::Scalar(255) : res.anomaly ? colour(l, 255, 90, 90) : colour(l, 120, 255, 120);
  cv::putText(mat, text, origin, cv::FONT_HERSHEY_SIMPLEX, scale, text_colour, 1, cv::LINE_AA);
}

void draw_progress(const Canvas& c, const char* text, double fraction) {
  const Layout l = layout(c.format);
  if (c.width < 8 || c.height < 8) return;
  cv::Mat mat = view(c, l);
  fraction = std::isnan(fraction) ? 0.0 : std::clamp(fraction, 0.0, 1.0);
  const double scale = std::clamp(c.width / 640.0, 0.35, 1.5);
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
  const int bar = std::max(3, c.height / 40), pad = 3;
  const int banner = std::min(c.height, size.height + baseline + bar + 4 * pad);
  const cv::Scalar ink = l.gray ? cv::Scalar(255) : colour(l, 255, 220, 0);
  cv::rectangle(mat, cv::Rect(0, c.height - banner, c.width, banner), colour(l, 0, 0, 0), cv::FILLED);
  cv::putText(mat, text, cv::Point(pad, c.height - banner + pad + size.height), cv::FONT_HERSHEY_SIMPLEX, scale, ink, 1,
              cv::LINE_AA);
  const int y = c.height - pad - bar, w = c.width - 2 * pad;
  cv::rectangle(mat, cv::Rect(pad, y, w, bar), ink, 1);
  const int filled = static_cast<int>(std::lround(w * fraction));
  if (filled > 0) cv::rectangle(mat, cv::Rect(pad, y, filled, bar), ink, cv::FILLED);
}

}  // namespace differnet::overlay
