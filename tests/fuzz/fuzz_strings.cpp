// libFuzzer target: the strings the element and the tools parse from users: the region of interest
// ("x,y,w,h"), which must then be checked against a frame without overflow; the device ("auto",
// "cpu", "cuda", "cuda:N"), the precision ("fp32", "fp16", "bf16") and the flow precision ("fp32",
// "bf16", "int8"): accepted names must read back as themselves, anything else must be an Error,
// never a crash or a default; the tiles ("COLSxROWS"): a parsed grid cuts any region into that many
// tiles inside it, or says it cannot.
#include <cstdint>
#include <string>

#include "error.h"
#include "device_name.h"
#include "frame.h"
#include "tiling.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const differnet::Region r = differnet::Region::parse(text.c_str());  // as GObject hands it over
    if (!r.whole_frame() && (r.x < 0 || r.y < 0 || r.width <= 0 || r.height <= 0)) __builtin_trap();
    for (int side : {1, 640, 1 << 30, 0x7fffffff}) {
      const bool fits = r.fits(side, side);
      if (fits && !r.whole_frame() && (int64_t{r.x} + r.width > side || int64_t{r.y} + r.height > side)) __builtin_trap();
    }
    if (differnet::Region::parse(r.to_string()).to_string() != r.to_string()) __builtin_trap();
  } catch (const differnet::Error&) {
  }
  try {
    const differnet::DeviceName d = differnet::parse_device_name(text);
    const differnet::DeviceName again = differnet::parse_device_name(d.to_string());
    if (again.kind != d.kind || again.index != d.index || d.index < 0 || d.index > 999) __builtin_trap();
  } catch (const differnet::Error&) {
  }
  try {
    const differnet::Precision p = differnet::parse_precision(text);
    if (text != differnet::precision_name(p)) __builtin_trap();  // only the three exact names
  } catch (const differnet::Error&) {
  }
  try {
    const differnet::FlowPrecision p = differnet::parse_flow_precision(text);
    if (text != differnet::flow_precision_name(p)) __builtin_trap();  // only the three exact names
  } catch (const differnet::Error&) {
  }
  try {  // a choice: "auto" (false) or exactly one of the names
    differnet::Precision p;
    differnet::FlowPrecision f;
    if (!differnet::parse_precision_choice(text, p) && text != "auto") __builtin_trap();
    if (differnet::parse_flow_precision_choice(text, f) &&
        differnet::arithmetic_name(p, f) != text + "/" + text)
      __builtin_trap();  // a name both parsers accept (fp32, bf16) names the same arithmetic twice
  } catch (const differnet::Error&) {
  }
  try {
    const differnet::TileGrid g = differnet::TileGrid::parse(text, 0.25);
    if (differnet::TileGrid::parse(g.to_string()).to_string() != g.to_string()) __builtin_trap();
    for (const differnet::Region& area : {differnet::Region{0, 0, 4096, 256}, differnet::Region{5, 7, 100, 9},
                                          differnet::Region{0, 0, 1 << 30, 1 << 30}}) {
      try {
        const auto tiles = differnet::tile_regions(area, g);
        if (tiles.size() != static_cast<size_t>(g.cols * g.rows)) __builtin_trap();
        for (const auto& t : tiles)
          if (t.x < area.x || t.y < area.y || int64_t{t.x} + t.width > int64_t{area.x} + area.width ||
              int64_t{t.y} + t.height > int64_t{area.y} + area.height || t.width < 8 || t.height < 8)
            __builtin_trap();
      } catch (const differnet::Error&) {
      }
    }
  } catch (const differnet::Error&) {
  }
  return 0;
}
