#include "frame.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

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
  // strtol, not sscanf("%d"): out-of-range numbers are detected instead of being undefined behaviour.
  int* fields[4] = {&r.x, &r.y, &r.width, &r.height};
  const char* p = text.c_str();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (*p != ',') throw Error("region '" + text + "' is not of the form x,y,width,height");
      ++p;
    }
    if (!(*p >= '0' && *p <= '9') && *p != '-' && *p != '+')
      throw Error("region '" + text + "' is not of the form x,y,width,height");
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(p, &end, 10);
    if (end == p) throw Error("region '" + text + "' is not of the form x,y,width,height");
    if (errno == ERANGE || v > INT_MAX || v < INT_MIN)
      throw Error("region '" + text + "': a coordinate is out of range (at most " + std::to_string(INT_MAX) + ")");
    *fields[i] = static_cast<int>(v);
    p = end;
  }
  if (*p != '\0') throw Error("region '" + text + "' is not of the form x,y,width,height");
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
  if (int64_t{frame.stride} < int64_t{frame.width} * bytes_per_pixel(frame.format))
    throw Error("frame row stride " + std::to_string(frame.stride) + " is shorter than a row of " +
                std::to_string(frame.width) + " " + pixel_format_name(frame.format) + " pixels");
  if (region.whole_frame()) return;
  if (!region.fits(frame.width, frame.height))
    throw Error("region " + region.to_string() + " does not lie inside the " + std::to_string(frame.width) + "x" +
                std::to_string(frame.height) + " frame");
}

bool Region::fits(int frame_width, int frame_height) const {
  if (whole_frame()) return true;
  return x >= 0 && y >= 0 && width > 0 && height > 0 && int64_t{x} + width <= frame_width &&
         int64_t{y} + height <= frame_height;
}

Region effective_region(const FrameView& frame, const Region& region) {
  if (!region.whole_frame()) return region;
  return Region{0, 0, frame.width, frame.height};
}

}  // namespace differnet
