// A borrowed 8-bit video frame or image and the region of it to score. No LibTorch here: the
// GStreamer element and the command-line tools describe their pixels with these types.
#pragma once
#include <cstdint>
#include <string>

namespace differnet {

enum class PixelFormat { RGB, BGR, RGBx, BGRx, RGBA, BGRA, GRAY8 };

int bytes_per_pixel(PixelFormat format);
const char* pixel_format_name(PixelFormat format);

// A rectangle in pixels; width == 0 and height == 0 means the whole frame.
struct Region {
  int x = 0, y = 0, width = 0, height = 0;
  bool whole_frame() const { return width == 0 && height == 0; }
  // True when the region is empty (the whole frame) or lies inside a width x height frame; computed
  // in 64 bits, so that huge coordinates cannot wrap around into "inside".
  bool fits(int frame_width, int frame_height) const;
  // Parses "x,y,w,h" (or "" for the whole frame); throws Error on anything else.
  static Region parse(const std::string& text);
  std::string to_string() const;
};

struct FrameView {
  const uint8_t* data = nullptr;
  int width = 0, height = 0;
  int stride = 0;  // bytes from one row to the next (rows may be padded)
  PixelFormat format = PixelFormat::RGB;
};

// Throws Error unless the frame is well formed and `region` lies inside it.
void check_frame(const FrameView& frame, const Region& region);
// The region to use for `frame`: the whole frame when `region` is empty.
Region effective_region(const FrameView& frame, const Region& region);

}  // namespace differnet
