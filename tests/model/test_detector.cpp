// The torch-free interface the element uses: pixel formats, strides, regions, devices, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "detector.h"
#include "error.h"
#include "runtime.h"
#include "sha256.h"
#include "test_support.h"

using namespace differnet;

namespace {

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = fixtures::temp_dir() + "/model.safetensors";
    Model m = fixtures::tiny_model(5, 16);
    m.calibration = Calibration{true, 2.0, 1, "test", 2, 1.0, 0.1, 1.5};
    save_model(m, path_);
  }
  static Detector& detector() {
    static Detector d(DetectorOptions{path_, "cpu", 2});
    return d;
  }
  // Packs an RGB image into another layout, with `pad` extra bytes per row.
  static std::vector<uint8_t> pack(const Image& img, PixelFormat f, int pad, int* stride) {
    const int bpp = bytes_per_pixel(f);
    *stride = img.width * bpp + pad;
    std::vector<uint8_t> out(static_cast<size_t>(*stride) * img.height, 77);
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x) {
        const uint8_t* s = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
        uint8_t* d = &out[static_cast<size_t>(y) * *stride + x * bpp];
        switch (f) {
          case PixelFormat::RGB: d[0] = s[0], d[1] = s[1], d[2] = s[2]; break;
          case PixelFormat::BGR: d[0] = s[2], d[1] = s[1], d[2] = s[0]; break;
          case PixelFormat::RGBx: case PixelFormat::RGBA: d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = 9; break;
          case PixelFormat::BGRx: case PixelFormat::BGRA: d[0] = s[2], d[1] = s[1], d[2] = s[0], d[3] = 9; break;
          case PixelFormat::GRAY8: d[0] = s[0]; break;
        }
      }
    return out;
  }
  static inline std::string path_;
};

}  // namespace

// Every colour layout and a padded stride give the same score as packed RGB.
TEST_F(DetectorTest, FormatsAndStridesAgree) {
  Image img = fixtures::make_texture(70, 50, 3);
  const double ref = detector().detect(img.view(), {}).score;
  for (PixelFormat f : {PixelFormat::RGB, PixelFormat::BGR, PixelFormat::RGBx, PixelFormat::BGRx, PixelFormat::RGBA,
                        PixelFormat::BGRA}) {
    int stride = 0;
    auto buf = pack(img, f, 5, &stride);
    const double s = detector().detect(FrameView{buf.data(), img.width, img.height, stride, f}, {}).score;
    EXPECT_NEAR(s, ref, 1e-5 * ref) << pixel_format_name(f);
  }
  // Gray: the same as an RGB image whose three channels are the red one.
  Image gray = img;
  for (size_t i = 0; i < gray.pixels.size(); i += 3) gray.pixels[i + 1] = gray.pixels[i + 2] = gray.pixels[i];
  int stride = 0;
  auto buf = pack(img, PixelFormat::GRAY8, 3, &stride);
  EXPECT_NEAR(detector().detect(FrameView{buf.data(), img.width, img.height, stride, PixelFormat::GRAY8}, {}).score,
              detector().detect(gray.view(), {}).score, 1e-5);
}

// A region scores exactly what the cropped image scores.
TEST_F(DetectorTest, RegionEqualsCrop) {
  Image img = fixtures::make_texture(80, 60, 4);
  Image crop;
  crop.width = 30, crop.height = 20;
  for (int y = 10; y < 30; ++y)
    crop.pixels.insert(crop.pixels.end(), img.pixels.begin() + (y * 80 + 40) * 3, img.pixels.begin() + (y * 80 + 70) * 3);
  DetectRequest r;
  r.region = Region{40, 10, 30, 20};
  EXPECT_NEAR(detector().detect(img.view(), r).score, detector().detect(crop.view(), {}).score, 1e-6);
}

// Heatmap, thresholds, verdict and stage times.
TEST_F(DetectorTest, ResultFields) {
  Image img = fixtures::make_texture(64, 64, 5);
  DetectRequest r;
  r.transforms = 3;
  r.localize = true;
  Detection d = detector().detect(img.view(), r);
  EXPECT_EQ(d.heatmap.width, 128);
  EXPECT_EQ(d.heatmap.height, 128);
  ASSERT_EQ(d.heatmap.values.size(), 128u * 128u);
  EXPECT_GT(*std::max_element(d.heatmap.values.begin(), d.heatmap.values.end()), 0.0f);
  EXPECT_DOUBLE_EQ(d.threshold, 2.0);  // the model's calibration
  EXPECT_EQ(d.anomaly, d.score >= 2.0);
  EXPECT_GT(d.times.total_ms, 0.0);
  EXPECT_GE(d.times.total_ms, d.times.backbone_ms + d.times.flow_ms);
  r.threshold = d.score - 1e-3;  // an explicit threshold overrides it
  Detection flagged = detector().detect(img.view(), r);
  EXPECT_TRUE(flagged.anomaly);
  r.threshold = d.score + 1e-3;
  EXPECT_FALSE(detector().detect(img.view(), r).anomaly);
  EXPECT_EQ(detector().summary().model_id, sha256_file_hex(path_).substr(0, 12));
  EXPECT_EQ(detector().summary().device, "cpu");
}

TEST_F(DetectorTest, BadInputsAreErrors) {
  Image img = fixtures::make_texture(32, 32, 6);
  DetectRequest r;
  r.region = Region{20, 20, 20, 20};  // sticks out of the frame
  EXPECT_THROW(detector().detect(img.view(), r), Error);
  r = DetectRequest{};
  r.transforms = 0;
  EXPECT_THROW(detector().detect(img.view(), r), Error);
  FrameView short_stride = img.view();
  short_stride.stride = 10;
  EXPECT_THROW(detector().detect(short_stride, {}), Error);
  EXPECT_THROW(Region::parse("1,2,3"), Error);
  EXPECT_THROW(Region::parse("0,0,-5,5"), Error);
  EXPECT_EQ(Region::parse("1,2,3,4").to_string(), "1,2,3,4");
}

// CUDA where there is none is an error, never a silent CPU fallback; nonsense names are refused.
TEST(Runtime, DeviceNames) {
  EXPECT_EQ(resolve_device("cpu"), "cpu");
  EXPECT_THROW(resolve_device("gpu"), Error);
  EXPECT_THROW(resolve_device("cuda:x"), Error);
  if (!cuda_available()) {
    EXPECT_EQ(resolve_device("auto"), "cpu");
    try {
      resolve_device("cuda");
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos);
    }
  }
  EXPECT_THROW(set_threads(-1), Error);
  EXPECT_EQ(set_threads(1), 1);
}
