// The torch-free interface the element uses: pixel formats, strides, regions, devices, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "arithmetic_calibration.h"
#include "detector.h"
#include "error.h"
#include "runtime.h"
#include "sha256.h"
#include "test_support.h"

using namespace differnet;

namespace {

// Relative tolerances of a score and a gradient map computed two ways (batched against alone,
// another device's fp32 kernels): the float32 sums in series of this width-16 fixture model,
// derived in test_support.h. Same shapes on the same path compute identically on the CPU (1e-6).
const double kScoreTol = fixtures::tiny_model_tolerance(16);
const double kMapTol = fixtures::tiny_model_tolerance(16, true);

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = fixtures::temp_dir() + "/model.safetensors";
    Model m = fixtures::tiny_model(5, 16);
    m.calibration = Calibration{true, 2.0, 1, "test", 2, 1.0, 0.1, 2.1, 0.0, {}};
    save_model(m, path_);
  }
  static Detector& detector() {
    static Detector d(DetectorOptions{path_, fixtures::test_device(), 2});
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
    EXPECT_NEAR(s, ref, kScoreTol * ref) << pixel_format_name(f);
  }
  // Gray: the same as an RGB image whose three channels are the red one.
  Image gray = img;
  for (size_t i = 0; i < gray.pixels.size(); i += 3) gray.pixels[i + 1] = gray.pixels[i + 2] = gray.pixels[i];
  int stride = 0;
  auto buf = pack(img, PixelFormat::GRAY8, 3, &stride);
  const double gray_score = detector().detect(gray.view(), {}).score;
  EXPECT_NEAR(detector().detect(FrameView{buf.data(), img.width, img.height, stride, PixelFormat::GRAY8}, {}).score,
              gray_score, kScoreTol * gray_score);
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
  const double cropped = detector().detect(crop.view(), {}).score;
  EXPECT_NEAR(detector().detect(img.view(), r).score, cropped, 1e-6 * cropped);
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
  EXPECT_EQ(detector().summary().device, resolve_device(fixtures::test_device()));
  EXPECT_EQ(detector().summary().precision, "fp32");
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

// upload() copies the region out of the frame: the frame may change at once; score() on another
// thread gives exactly what detect() gives; an empty UploadedFrame is an error.
TEST_F(DetectorTest, UploadThenScoreOnAnotherThread) {
  Image img = fixtures::make_texture(90, 70, 11);
  DetectRequest r;
  r.region = Region{10, 5, 60, 50};
  r.localize = true;
  r.transforms = 2;
  const Detection ref = detector().detect(img.view(), r);
  UploadedFrame up = detector().upload(img.view(), r);
  EXPECT_EQ(up.region().to_string(), "10,5,60,50");
  std::fill(img.pixels.begin(), img.pixels.end(), 0);  // the frame is reused by its owner
  Detection d;
  std::thread worker([&] { d = detector().score(up, r); });
  worker.join();
  // Identical on the CPU; within float noise on CUDA, whose gradient kernels may sum in any order.
  EXPECT_NEAR(d.score, ref.score, 1e-6 * ref.score);
  ASSERT_EQ(d.heatmap.values.size(), ref.heatmap.values.size());
  const float peak = *std::max_element(ref.heatmap.values.begin(), ref.heatmap.values.end());
  for (size_t k = 0; k < d.heatmap.values.size(); ++k) ASSERT_NEAR(d.heatmap.values[k], ref.heatmap.values[k], 1e-5 * peak);
  EXPECT_GE(d.times.upload_ms, 0.0);
  EXPECT_THROW(detector().score(UploadedFrame(), r), Error);
}

// score_batch: frames of several requests (different sizes, T, localization, a tiled one, a bad
// one) each get what score() gives them alone; those that share T and localization share one pass.
TEST_F(DetectorTest, BatchedFramesScoreAsAlone) {
  std::vector<Image> images;
  std::vector<DetectRequest> requests;
  auto add = [&](int w, int h, uint32_t seed, int T, bool localize, const std::string& tiles = "") {
    images.push_back(fixtures::make_texture(w, h, seed));
    DetectRequest r;
    r.transforms = T;
    r.localize = localize;
    r.tiles = tiles;
    r.heatmap_size = localize ? 8 : 0;
    requests.push_back(r);
  };
  add(64, 48, 1, 1, false);
  add(90, 70, 2, 2, true);
  add(50, 50, 3, 1, false);
  add(128, 32, 4, 1, false, "4x1");  // tiled: scored on its own
  add(70, 90, 5, 2, true);
  add(40, 40, 6, 1, false);
  std::vector<UploadedFrame> uploads;
  for (size_t i = 0; i < images.size(); ++i) uploads.push_back(detector().upload(images[i].view(), requests[i]));
  std::vector<BatchItem> items(images.size() + 1);
  std::vector<BatchItem*> pointers;
  for (size_t i = 0; i < images.size(); ++i) {
    items[i].frame = &uploads[i];
    items[i].request = requests[i];
    pointers.push_back(&items[i]);
  }
  UploadedFrame empty;
  items.back().frame = &empty;  // a bad item fails alone
  pointers.push_back(&items.back());
  detector().score_batch(pointers);
  EXPECT_NE(items.back().error.find("empty"), std::string::npos) << items.back().error;
  const int expected_batch[] = {3, 2, 3, 1, 2, 3};
  for (size_t i = 0; i < images.size(); ++i) {
    SCOPED_TRACE("frame " + std::to_string(i));
    ASSERT_TRUE(items[i].error.empty()) << items[i].error;
    EXPECT_EQ(items[i].batch_frames, expected_batch[i]);
    const Detection alone = detector().detect(images[i].view(), requests[i]);
    const Detection& d = items[i].detection;
    EXPECT_NEAR(d.score, alone.score, kScoreTol * alone.score);
    EXPECT_EQ(d.anomaly, alone.anomaly);
    EXPECT_EQ(d.tile_scores.size(), alone.tile_scores.size());
    ASSERT_EQ(d.heatmap.values.size(), alone.heatmap.values.size());
    ASSERT_EQ(d.heatmap.width, alone.heatmap.width);
    if (!alone.heatmap.values.empty()) {
      const float peak = *std::max_element(alone.heatmap.values.begin(), alone.heatmap.values.end());
      for (size_t k = 0; k < d.heatmap.values.size(); ++k)
        ASSERT_NEAR(d.heatmap.values[k], alone.heatmap.values[k], kMapTol * peak) << "pixel " << k;
    }
  }
}

// The test device (CUDA under scripts/gpu-check.sh) agrees with the CPU in fp32 within kScoreTol;
// reduced backbone precision (fp16 on CUDA, bf16 on the CPU: 8 to 11 bits of mantissa, each
// layer's inputs rounded to 2^-9 relative or better, over the backbone's 26 layers about 5 %) stays
// within 5 %, the flow being fp32; fp16 on the CPU and unknown precisions are refused with the reason.
TEST_F(DetectorTest, DevicesAndPrecisionsAgree) {
  const std::string device = resolve_device(fixtures::test_device());
  Detector cpu(DetectorOptions{path_, "cpu", 2, "fp32"});
  Detector same(DetectorOptions{path_, device, 2, "fp32"});
  const std::string reduced = device == "cpu" ? "bf16" : "fp16";
  // Where the CPU's kernels run no bf16 (below AVX-512, or capped by ONEDNN_MAX_CPU_ISA) bf16 is
  // refused with the reason, and fp32 stands in for the reduced precision below.
  const bool has_reduced = device != "cpu" || cpu_runs_bf16_convolutions();
  if (!has_reduced) {
    try {
      Detector refused(DetectorOptions{path_, device, 2, reduced});
      ADD_FAILURE() << "bf16 was accepted where the CPU's kernels have none";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no bf16 convolutions"), std::string::npos) << e.what();
    }
  }
  Detector low(DetectorOptions{path_, device, 2, has_reduced ? reduced : "fp32"});
  DetectRequest r;
  r.transforms = 4;
  r.localize = true;
  for (int i = 0; i < 3; ++i) {
    Image img = fixtures::make_texture(96, 96, 40 + i, i == 2 ? std::optional<fixtures::Spot>({{40, 40, 6}}) : std::nullopt);
    const Detection a = cpu.detect(img.view(), r), b = same.detect(img.view(), r), c = low.detect(img.view(), r);
    EXPECT_NEAR(b.score, a.score, kScoreTol * a.score) << device << " fp32, image " << i;
    EXPECT_NEAR(c.score, a.score, 0.05 * a.score) << device << " " << reduced << ", image " << i;
    const float peak = *std::max_element(a.heatmap.values.begin(), a.heatmap.values.end());
    for (size_t k = 0; k < a.heatmap.values.size(); ++k)
      ASSERT_NEAR(b.heatmap.values[k], a.heatmap.values[k], kMapTol * peak) << device << " heatmap, image " << i;
  }
  try {
    Detector bad(DetectorOptions{path_, "cpu", 2, "fp16"});
    FAIL() << "fp16 on the CPU was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fp16 needs a CUDA device"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Detector(DetectorOptions{path_, "cpu", 2, "fp64"}), Error);
  EXPECT_THROW(parse_precision("half"), Error);
  EXPECT_EQ(precision_name(parse_precision("bf16")), std::string("bf16"));
}

// The flow's precision: bf16 and int8 (CPU) score within a few % of fp32, with and without
// localization (int8's score comes from its int8 pass either way: the same score both ways); int8
// on CUDA and unknown names are refused.
TEST_F(DetectorTest, FlowPrecisions) {
  Detector fp32(DetectorOptions{path_, "cpu", 2, "fp32"});
  for (const std::string name : {"bf16", "int8"}) {
    SCOPED_TRACE(name);
    if (name == "bf16" && !cpu_runs_bf16_convolutions()) {  // refused with the reason, below AVX-512
      try {
        Detector refused(DetectorOptions{path_, "cpu", 2, "fp32", name});
        ADD_FAILURE() << "a bf16 flow was accepted where the CPU's kernels have none";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no bf16 matrix products"), std::string::npos) << e.what();
      }
      continue;
    }
    Detector low(DetectorOptions{path_, "cpu", 2, "fp32", name});
    EXPECT_EQ(low.summary().flow_precision, name);
    for (int i = 0; i < 2; ++i) {
      Image img = fixtures::make_texture(96, 96, 40 + i, i == 1 ? std::optional<fixtures::Spot>({{40, 40, 6}}) : std::nullopt);
      DetectRequest r;
      const double exact = fp32.detect(img.view(), r).score;
      const double reduced = low.detect(img.view(), r).score;
      EXPECT_NEAR(reduced, exact, 0.05 * exact) << "image " << i;
      r.localize = true;
      const Detection localized = low.detect(img.view(), r);
      EXPECT_FALSE(localized.heatmap.values.empty());
      EXPECT_NEAR(localized.score, reduced, (name == "int8" ? 1e-6 : 0.02) * reduced) << "image " << i;
    }
  }
  if (resolve_device(fixtures::test_device()) != "cpu") {
    try {
      Detector bad(DetectorOptions{path_, fixtures::test_device(), 2, "fp32", "int8"});
      FAIL() << "int8 on CUDA was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CPU only"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(Detector(DetectorOptions{path_, "cpu", 2, "fp32", "int4"}), Error);
  EXPECT_EQ(flow_precision_name(parse_flow_precision("int8")), std::string("int8"));
}

// The comparisons above are well conditioned only if the fixture model's scores are: of the order
// of 1 to 100, never the 1e18 of an untrained flow with PyTorch's initialisation (test_support.h).
TEST_F(DetectorTest, FixtureScoresAreWellConditioned) {
  for (int i = 0; i < 3; ++i) {
    const Image img = fixtures::make_texture(96, 96, 60 + i, i == 2 ? std::optional<fixtures::Spot>({{40, 40, 8}}) : std::nullopt);
    const double score = detector().detect(img.view(), {}).score;
    EXPECT_GT(score, 0.0) << "image " << i;
    EXPECT_LT(score, 1e6) << "image " << i;
  }
}

// precision=auto follows what the libraries report of the CPU, including their capping variables
// (the dispatch levels of scripts/test-dispatch-levels.sh set them): bf16 backbone only with AMX, int8
// flow only with VNNI, fp32 where they are capped below or ATen runs without vector kernels.
TEST(AutoPrecision, FollowsWhatTheCpuReports) {
  const CpuArithmetic cpu = cpu_arithmetic();
  const AutoPrecision a = auto_precision("cpu");
  SCOPED_TRACE(a.reason);
  const bool vector = cpu.aten_capability != "default";
  EXPECT_EQ(a.backbone == Precision::BF16, vector && cpu.amx && cpu_runs_bf16_convolutions());
  EXPECT_NE(a.backbone, Precision::FP16);
  EXPECT_EQ(a.flow == FlowPrecision::INT8, vector && cpu.vnni);
  EXPECT_NE(a.flow, FlowPrecision::BF16);
  EXPECT_NO_THROW(check_precision("cpu", a.backbone));
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  const std::string isa = env("ONEDNN_MAX_CPU_ISA"), aten = env("ATEN_CPU_CAPABILITY");
  for (const char* capped : {"SSE41", "AVX", "AVX2"})
    if (isa == capped) {
      EXPECT_EQ(a.backbone, Precision::FP32);
      EXPECT_EQ(a.flow, FlowPrecision::FP32);
      EXPECT_FALSE(cpu.vnni || cpu.amx || cpu.avx512_bf16) << cpu.onednn_isa;
    }
  if (isa == "AVX512_CORE" || isa == "AVX512_CORE_VNNI") {
    EXPECT_EQ(a.backbone, Precision::FP32);
  }
  if (aten == "default") {
    EXPECT_EQ(cpu.aten_capability, aten);
    EXPECT_EQ(a.backbone, Precision::FP32);
    EXPECT_EQ(a.flow, FlowPrecision::FP32);
  }
  if (resolve_device(fixtures::test_device()) != "cpu") {
    EXPECT_EQ(auto_precision("cuda:0").backbone, Precision::FP16);
  }
}

// A model calibrated in every arithmetic: auto runs in what auto_precision picks, with that
// arithmetic's own threshold; the same file without them falls back to fp32/fp32 and says so; an
// explicit precision without a threshold of its own uses fp32/fp32's and says so too.
TEST(AutoPrecision, UsesOnlyArithmeticsTheModelIsCalibratedIn) {
  Model m = fixtures::tiny_model(5, 16);
  std::vector<Image> good;
  for (int i = 0; i < 4; ++i) good.push_back(fixtures::make_texture(96, 96, 700 + i));
  std::vector<std::vector<at::Tensor>> images;
  for (const auto& t : fixtures::resized_for_training(good, m.config.input_size)) images.push_back({t});
  ArithmeticCalibrationOptions o;
  const Calibration all = calibrate_arithmetics(m, images, "cpu", o);
  const size_t runnable = runnable_precisions("cpu").size() * runnable_flow_precisions("cpu").size();
  EXPECT_EQ(all.arithmetics.size(), runnable - 1);
  // Every arithmetic's threshold rests on the same images (its own scores of them; how far a reduced
  // precision moves a score depends on the CPU's kernels, so no closeness to fp32 is asserted here).
  for (const auto& [name, t] : all.arithmetics) {
    EXPECT_EQ(t.good_count, all.good_count) << name;
    EXPECT_TRUE(std::isfinite(t.threshold) && t.threshold > 0 && t.threshold <= t.good_max) << name;
  }

  const std::string dir = fixtures::temp_dir();
  m.calibration = all;
  save_model(m, dir + "/all.safetensors");
  m.calibration.arithmetics.clear();
  save_model(m, dir + "/fp32.safetensors");

  const AutoPrecision a = auto_precision("cpu");
  const std::string wanted = arithmetic_name(a.backbone, a.flow);
  Detector full(DetectorOptions{dir + "/all.safetensors", "cpu", 2});
  EXPECT_EQ(full.summary().precision, precision_name(a.backbone));
  EXPECT_EQ(full.summary().flow_precision, flow_precision_name(a.flow));
  EXPECT_EQ(full.summary().threshold_arithmetic, wanted);
  EXPECT_DOUBLE_EQ(full.summary().threshold, all.threshold_for(wanted));

  Detector old(DetectorOptions{dir + "/fp32.safetensors", "cpu", 2});
  EXPECT_EQ(old.summary().precision, "fp32");
  EXPECT_EQ(old.summary().flow_precision, "fp32");
  EXPECT_DOUBLE_EQ(old.summary().threshold, all.threshold);
  if (wanted != "fp32/fp32") {
    EXPECT_NE(old.summary().precision_note.find("no threshold for " + wanted), std::string::npos)
        << old.summary().precision_note;
  }

  Detector explicit_int8(DetectorOptions{dir + "/fp32.safetensors", "cpu", 2, "fp32", "int8"});
  EXPECT_EQ(explicit_int8.summary().flow_precision, "int8");
  EXPECT_EQ(explicit_int8.summary().threshold_arithmetic, "fp32/fp32");
  EXPECT_NE(explicit_int8.summary().precision_note.find("using fp32/fp32's"), std::string::npos);
  Detector int8_own(DetectorOptions{dir + "/all.safetensors", "cpu", 2, "fp32", "int8"});
  EXPECT_DOUBLE_EQ(int8_own.summary().threshold, all.threshold_for("fp32/int8"));

  m.calibration = Calibration{};  // uncalibrated: auto is the method's arithmetic
  save_model(m, dir + "/none.safetensors");
  Detector none(DetectorOptions{dir + "/none.safetensors", "cpu", 2});
  EXPECT_EQ(none.summary().precision + "/" + none.summary().flow_precision, "fp32/fp32");
  EXPECT_THROW(Detector(DetectorOptions{dir + "/all.safetensors", "cpu", 2, "auto", "int4"}), Error);
  EXPECT_THROW(calibrate_arithmetics(m, {images[0]}, "cpu", o), Error);
}
