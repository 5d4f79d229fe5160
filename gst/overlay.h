// Drawing a DifferNet result onto a video frame in place: the heatmap colour-mapped (JET) and
// alpha-blended over the scored region, the score as text, and a border whose colour is the
// verdict (red: anomaly, green: good; white/black on GRAY8). OpenCV only: no GStreamer, no LibTorch.
#pragma once
#include <cstdint>

#include "frame.h"

namespace differnet::overlay {

struct Canvas {
  uint8_t* data;
  int width, height, stride;
  PixelFormat format;
};

struct Result {
  double score, threshold;  // threshold NaN: uncalibrated
  bool anomaly, reused;
  const float* heatmap;     // may be null
  int heatmap_width, heatmap_height;
  Region region;            // the scored region (whole frame when empty)
  Region worst_tile{};      // tiled scoring: the tile with the largest score, outlined on an anomaly
                            // (empty: untiled)
  const Region* defects = nullptr;  // defect regions (frame pixels), outlined; may be null
  int n_defects = 0;
};

// The map's square root is scaled to its own maximum and colour-mapped (JET: blue cold, red hot), then blended
// with opacity alpha * min(1, score / threshold): a clearly good frame is tinted less than an
// anomalous one, whose map shows at full `alpha`. With text_and_border, the defect regions are
// outlined too (yellow; white on GRAY8), each with its rank.
void draw(const Canvas& canvas, const Result& result, bool heatmap, bool text_and_border, double alpha);

// A banner at the bottom of the frame: `text` (e.g. "LEARNING 12/40") over a progress bar filled to
// `fraction` (0..1, clamped), yellow on black (white on GRAY8). For differnetfilter's learn mode.
void draw_progress(const Canvas& canvas, const char* text, double fraction);

}  // namespace differnet::overlay
