#include "tiling.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "error.h"

namespace differnet {

namespace {
constexpr int kMaxTiles = 64;
constexpr double kMaxOverlap = 0.9;

// Start and size of `count` equal segments over `length` overlapping by `overlap` of a segment.
std::vector<std::pair<int, int>> segments(int length, int count, double overlap) {
  const double size = length / (count - (count - 1) * overlap);
  const int n = std::max(1, static_cast<int>(std::lround(size)));
  std::vector<std::pair<int, int>> out;
  for (int i = 0; i < count; ++i) {
    // in double: i * (length - n) overflows an int for regions of 2^30 pixels
    int start = count == 1 ? 0 : static_cast<int>(std::lround(i * static_cast<double>(length - n) / (count - 1)));
    start = std::clamp(start, 0, std::max(0, length - n));
    out.emplace_back(start, std::min(n, length));
  }
  return out;
}
}  // namespace

void TileGrid::validate() const {
  if (cols < 1 || cols > kMaxTiles || rows < 1 || rows > kMaxTiles)
    throw Error("tiles must be 1..64 columns by 1..64 rows, got " + to_string());
  if (!(overlap >= 0.0 && overlap <= kMaxOverlap))
    throw Error("tile overlap must be a fraction in [0, 0.9], got " + std::to_string(overlap));
}

TileGrid TileGrid::parse(const std::string& text, double overlap) {
  const size_t x = text.find_first_of("xX");
  auto number = [&](const std::string& s) {
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || v < 1 || v > kMaxTiles)  // no trailing text, no NUL
      throw Error("tiles must be written COLSxROWS with 1..64 each (e.g. 8x1) or auto, not '" + text + "'");
    return static_cast<int>(v);
  };
  if (x == std::string::npos) number("");  // throws the message above
  TileGrid g;
  g.cols = number(text.substr(0, x));
  g.rows = number(text.substr(x + 1));
  g.overlap = overlap;
  g.validate();
  return g;
}

std::string TileGrid::to_string() const { return std::to_string(cols) + "x" + std::to_string(rows); }

TileGrid auto_grid(int width, int height, int input_size, double overlap) {
  TileGrid g;
  g.overlap = overlap;
  if (width <= 0 || height <= 0) return g;
  const int longest_tile = 2 * std::max(1, input_size);
  const double side = std::min({width, height, longest_tile});
  // Enough tiles of about `side` to cover each direction with the overlap.
  auto count = [&](int length) {
    const double c = (length / side - overlap) / (1.0 - overlap);
    return std::clamp(static_cast<int>(std::ceil(c - 1e-9)), 1, kMaxTiles);
  };
  g.cols = count(width);
  g.rows = count(height);
  return g;
}

std::vector<Region> tile_regions(const Region& area, const TileGrid& grid) {
  grid.validate();
  const auto xs = segments(area.width, grid.cols, grid.overlap);
  const auto ys = segments(area.height, grid.rows, grid.overlap);
  if (xs[0].second < 8 || ys[0].second < 8)
    throw Error("tiles " + grid.to_string() + " of a " + std::to_string(area.width) + "x" + std::to_string(area.height) +
                " region would be smaller than 8x8 pixels");
  std::vector<Region> out;
  for (const auto& [y, h] : ys)
    for (const auto& [x, w] : xs) out.push_back(Region{area.x + x, area.y + y, w, h});
  return out;
}

}  // namespace differnet
