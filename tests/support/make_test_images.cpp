// make-test-images DIR: small synthetic image folders for the tool tests:
//   DIR/train/*.png          16 good textures
//   DIR/fresh/*.png          6 more good textures (for calibration)
//   DIR/test/good/*.png      8 good textures
//   DIR/test/spot/*.png      8 textures with a large dark spot
//   DIR/ground_truth/spot/*_mask.png  the spots' masks (MVTec AD's layout)
//   DIR/broken/bad.png       not an image
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "image_file.h"
#include "test_support.h"

using namespace differnet;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-test-images DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (const char* sub : {"train", "fresh", "test/good", "test/spot", "ground_truth/spot", "broken"})
    std::filesystem::create_directories(dir + "/" + sub);
  auto save = [&](const std::string& path, const Image& img) { write_image(path, img); };
  for (int i = 0; i < 16; ++i) save(dir + "/train/" + std::to_string(i) + ".png", fixtures::make_texture(64, 64, 10 + i));
  for (int i = 0; i < 6; ++i) save(dir + "/fresh/" + std::to_string(i) + ".png", fixtures::make_texture(64, 64, 50 + i));
  for (int i = 0; i < 8; ++i) {
    save(dir + "/test/good/" + std::to_string(i) + ".png", fixtures::make_texture(64, 64, 100 + i));
    const fixtures::Spot spot{20 + 3 * i, 24 + 2 * i, 9};
    save(dir + "/test/spot/" + std::to_string(i) + ".png", fixtures::make_texture(64, 64, 200 + i, spot));
    Image mask{64, 64, std::vector<uint8_t>(64 * 64 * 3, 0)};
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        if (std::hypot(x - spot.x, y - spot.y) <= spot.radius)
          for (int c = 0; c < 3; ++c) mask.pixels[(static_cast<size_t>(y) * 64 + x) * 3 + c] = 255;
    save(dir + "/ground_truth/spot/" + std::to_string(i) + "_mask.png", mask);
  }
  std::ofstream(dir + "/broken/bad.png") << "this is not a PNG";
  return 0;
}
