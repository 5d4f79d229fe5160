// Tiled scoring of wide frames: the tile geometry, and the Detector scoring every tile of
// a wide strip in one batch, the frame's score being the worst tile's, with a stitched heatmap.
#include <gtest/gtest.h>

#include "detector.h"
#include "error.h"
#include "model.h"
#include "test_support.h"
#include "tiling.h"

using namespace differnet;

TEST(Tiling, ParseAndValidate) {
  const TileGrid g = TileGrid::parse("8x1", 0.25);
  EXPECT_EQ(g.cols, 8);
  EXPECT_EQ(g.rows, 1);
  EXPECT_TRUE(g.tiled());
  EXPECT_EQ(g.to_string(), "8x1");
  EXPECT_FALSE(TileGrid::parse("1x1").tiled());
  for (const char* bad : {"", "8", "x", "0x1", "65x1", "8x1x", "-2x1", "8 x1", "auto"}) {
    try {
      TileGrid::parse(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("COLSxROWS"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(TileGrid::parse(std::string("9\0" "9x4", 4)), Error);  // an embedded NUL (the fuzzer's find)
  EXPECT_THROW(TileGrid::parse("4x1", 0.95), Error);
  EXPECT_THROW(TileGrid::parse("4x1", -0.1), Error);
}

// Equal tiles, first at the start and last at the end, overlapping by the fraction asked.
TEST(Tiling, RegionsCoverTheAreaWithTheOverlap) {
  const Region area{100, 10, 4096, 256};
  auto tiles = tile_regions(area, TileGrid::parse("16x1"));
  ASSERT_EQ(tiles.size(), 16u);
  for (size_t i = 0; i < tiles.size(); ++i) {
    EXPECT_EQ(tiles[i].width, 256);
    EXPECT_EQ(tiles[i].height, 256);
    EXPECT_EQ(tiles[i].x, 100 + 256 * static_cast<int>(i));
    EXPECT_EQ(tiles[i].y, 10);
  }
  tiles = tile_regions(area, TileGrid::parse("21x2", 0.25));
  ASSERT_EQ(tiles.size(), 42u);
  EXPECT_EQ(tiles.front().x, 100);
  EXPECT_EQ(tiles[20].x + tiles[20].width, 100 + 4096);  // the last of the first row ends at the end
  EXPECT_EQ(tiles.back().y + tiles.back().height, 10 + 256);
  const double shared = (tiles[0].x + tiles[0].width - tiles[1].x) / static_cast<double>(tiles[0].width);
  EXPECT_NEAR(shared, 0.25, 0.02);
  EXPECT_THROW(tile_regions(Region{0, 0, 100, 100}, TileGrid::parse("20x1")), Error);  // 5-px tiles
  // 2^30-px regions: no int overflow (the fuzzer's other find), the last tile still ends at the end
  tiles = tile_regions(Region{0, 0, 1 << 30, 1 << 30}, TileGrid::parse("9x59", 0.25));
  EXPECT_EQ(static_cast<int64_t>(tiles.back().x) + tiles.back().width, int64_t{1} << 30);
}

// auto: square tiles of the short side, at most twice the model's input.
TEST(Tiling, AutoGrid) {
  TileGrid g = auto_grid(4096, 256, 448, 0.0);
  EXPECT_EQ(g.to_string(), "16x1");
  g = auto_grid(4096, 256, 448, 0.25);
  EXPECT_EQ(g.to_string(), "21x1");
  EXPECT_EQ(auto_grid(448, 448, 448, 0.0).to_string(), "1x1");
  EXPECT_EQ(auto_grid(640, 480, 448, 0.0).to_string(), "2x1");
  EXPECT_EQ(auto_grid(2000, 2000, 448, 0.0).to_string(), "3x3");  // tiles of at most 896 px
  EXPECT_EQ(auto_grid(256, 8192, 448, 0.0).to_string(), "1x32");
}

namespace {
constexpr int kSize = 96;

// Six textures side by side (a 576 x 96 strip), a dark spot in the fifth when `spot`.
Image strip(uint32_t seed, bool spot) {
  Image out;
  out.width = 6 * kSize;
  out.height = kSize;
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (int t = 0; t < 6; ++t) {
    std::optional<fixtures::Spot> s;
    if (spot && t == 4) s = fixtures::Spot{48, 40, 6};
    const Image tile = fixtures::make_texture(kSize, kSize, seed + t, s);
    for (int y = 0; y < kSize; ++y)
      std::copy_n(&tile.pixels[static_cast<size_t>(y) * kSize * 3], kSize * 3,
                  &out.pixels[(static_cast<size_t>(y) * out.width + t * kSize) * 3]);
  }
  return out;
}

// One texture model for the Detector tests (trained once: tens of seconds on 2 cores).
const std::string& texture_model() {
  static const std::string path = [] {
    const std::string p = fixtures::temp_dir() + "/texture.model";
    fixtures::train_texture_model(p, kSize);
    return p;
  }();
  return path;
}
}  // namespace

// A model trained on 96-px textures scores a 6x1-tiled strip: six tile scores, the frame's score is
// the largest, the spotted tile is the worst, and the strip without a spot stays below it; the
// stitched heatmap has the strip's shape and is hottest in the spotted tile.
TEST(Tiling, DetectorScoresEveryTileAndFindsTheSpot) {
  Detector detector(DetectorOptions{texture_model(), fixtures::test_device(), 2, "fp32", "fp32", false});
  EXPECT_EQ(detector.summary().tiles, "1x1");  // trained on whole images
  DetectRequest request;
  request.tiles = "6x1";
  const Image bad = strip(700, true), good = strip(800, false);
  const Detection b = detector.detect(bad.view(), request);
  const Detection g = detector.detect(good.view(), request);
  ASSERT_EQ(b.tile_scores.size(), 6u);
  ASSERT_EQ(b.tiles.size(), 6u);
  EXPECT_EQ(b.tiles[4].x, 4 * kSize);
  EXPECT_EQ(b.worst_tile, 4);
  EXPECT_EQ(b.score, b.tile_scores[4]);
  EXPECT_GT(b.score, g.score);
  EXPECT_TRUE(b.anomaly);
  std::printf("spotted tile %.3g, other tiles %.3g..%.3g; clean strip's worst %.3g (threshold %.3g)\n", b.score,
              *std::min_element(b.tile_scores.begin(), b.tile_scores.begin() + 4), b.tile_scores[5], g.score,
              b.threshold);
  // Without tiling the strip is one squeezed image: no tile fields.
  DetectRequest whole = request;
  whole.tiles = "1x1";
  const Detection w = detector.detect(bad.view(), whole);
  EXPECT_TRUE(w.tile_scores.empty());
  EXPECT_EQ(w.worst_tile, -1);
  // The same scores with localization (one gradient pass per tile) and a stitched map.
  request.localize = true;
  request.heatmap_size = 32;
  const Detection l = detector.detect(bad.view(), request);
  // (another code path, one tile at a time: the float32 bound of test_support.h)
  for (size_t i = 0; i < 6; ++i)
    EXPECT_NEAR(l.tile_scores[i], b.tile_scores[i], fixtures::tiny_model_tolerance(64) * b.tile_scores[i]) << i;
  EXPECT_EQ(l.heatmap.width, 6 * 32);
  EXPECT_EQ(l.heatmap.height, 32);
  const auto peak = std::max_element(l.heatmap.values.begin(), l.heatmap.values.end()) - l.heatmap.values.begin();
  EXPECT_EQ(peak % l.heatmap.width / 32, 4) << "the heatmap's peak lies in tile " << peak % l.heatmap.width / 32;
  // on-anomaly localization gives the map for the anomalous strip only
  request.localize = false;
  request.localize_on_anomaly = true;
  EXPECT_EQ(detector.detect(bad.view(), request).heatmap.width, 6 * 32);
}

// Overlapping tiles are averaged where they meet; a region (roi) is tiled, not the frame.
TEST(Tiling, OverlapAndRegion) {
  Detector detector(DetectorOptions{texture_model(), fixtures::test_device(), 2, "fp32", "fp32", false});
  const Image bad = strip(700, true);
  DetectRequest request;
  request.tiles = "3x1";
  request.tile_overlap = 0.5;
  request.region = Region{2 * kSize, 0, 4 * kSize, kSize};
  request.localize = true;
  request.heatmap_size = 16;
  const Detection d = detector.detect(bad.view(), request);
  ASSERT_EQ(d.tiles.size(), 3u);
  EXPECT_EQ(d.tiles[0].x, 2 * kSize);
  EXPECT_EQ(d.tiles[2].x + d.tiles[2].width, 6 * kSize);
  EXPECT_EQ(d.tiles[0].width, 2 * kSize);  // 384 px in 3 tiles overlapping by half: 192 each
  EXPECT_EQ(d.heatmap.width, 32);          // 384 px at 16 px per 192-px tile
  EXPECT_EQ(d.heatmap.height, 16);         // each tile 192 x 96 px maps to 16 x 16
  request.tiles = "100x1";
  EXPECT_THROW(detector.detect(bad.view(), request), Error);
}
