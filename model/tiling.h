// Tiled scoring of wide frames (line-scan strips): the scored region is cut into cols x rows tiles that
// overlap by a fraction of a tile's side; each tile is scored as an image of its own and the frame's
// score is the largest. No LibTorch here: the element, the tools and the model share it.
#pragma once
#include <string>
#include <vector>

#include "frame.h"

namespace differnet {

struct TileGrid {
  int cols = 1, rows = 1;   // 1 x 1: the whole region as one image (no tiling)
  double overlap = 0.0;     // fraction of a tile's side shared with its neighbour, in [0, 0.9]
  bool tiled() const { return cols * rows > 1; }
  // "CxR" (1..64 each, e.g. "8x1"); throws Error on anything else. "auto" is not a grid: see auto_grid.
  static TileGrid parse(const std::string& text, double overlap = 0.0);
  std::string to_string() const;  // "CxR"
  void validate() const;          // throws Error on counts outside 1..64 or an overlap outside [0, 0.9]
};

// The grid for a width x height region with square-ish tiles: tiles as close as possible to the
// region's short side, but no larger than twice the model's input side (a larger tile would be shrunk
// more than 2:1 and lose small defects). A square region no larger than that gives 1 x 1.
TileGrid auto_grid(int width, int height, int input_size, double overlap);

// The tiles of `area` (x, y, width, height; not the whole-frame marker), row-major: equal sizes,
// overlapping by the grid's fraction, the first at the area's start and the last ending at its end.
// Throws Error when a tile would be smaller than 8 x 8 pixels.
std::vector<Region> tile_regions(const Region& area, const TileGrid& grid);

}  // namespace differnet
