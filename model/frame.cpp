#include "frame.h"

#include <cstdio>

#include "error.h"

namespace differnet {

int bytes_per_pixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::RGB:
    case PixelFormat::BGR: return 3;
    case PixelFormat::GRAY8: return 1;
    default: return 4;
  }
}

const char* pixel_format_name(PixelFormat format) {
  switch (format) {
    case PixelFormat::RGB: return "RGB";
    case PixelFormat::BGR: return "BGR";
    case PixelFormat::RGBx: return "RGBx";
    case PixelFormat::BGRx: return "BGRx";
    case PixelFormat::RGBA: return "RGBA";
    case PixelFormat::BGRA: return "BGRA";
    case PixelFormat::GRAY8: return "GRAY8";
  }
  return "?";
}

Region Region::parse(const std::string& text) {
  Region r;
  if (text.empty()) return r;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d,%d,%d,%d%c", &r.x, &r.y, &r.width, &r.height, &tail) != 4)
    throw Error("region '" + text + "' is not of the form x,y,width,height");
  if (r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0)
    throw Error("region '" + text + "' needs x,y >= 0 and width,height > 0");
  return r;
}

std::string Region::to_string() const {
  if (whole_frame()) return "";
  return std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(width) + "," + std::to_string(height);
}

void check_frame(const FrameView& frame, const Region& region) {
  if (!frame.data) throw Error("frame has no pixel data");
  if (frame.width <= 0 || frame.height <= 0)
    throw Error("frame size " + std::to_string(frame.width) + "x" + std::to_string(frame.height) + " is empty");
  if (frame.stride < frame.width * bytes_per_pixel(frame.format))
    throw Error("frame row stride " + std::to_string(frame.stride) + " is shorter than a row of " +
                std::to_string(frame.width) + " " + pixel_format_name(frame.format) + " pixels");
  if (region.whole_frame()) return;
  if (region.x < 0 || region.y < 0 || region.width <= 0 || region.height <= 0 ||
      region.x + region.width > frame.width || region.y + region.height > frame.height)
    throw Error("region " + region.to_string() + " does not lie inside the " + std::to_string(frame.width) + "x" +
                std::to_string(frame.height) + " frame");
}

Region effective_region(const FrameView& frame, const Region& region) {
  if (!region.whole_frame()) return region;
  return Region{0, 0, frame.width, frame.height};
}

}  // namespace differnet
