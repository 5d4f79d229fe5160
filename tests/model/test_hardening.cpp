// Hostile and broken inputs found when the project was tried as a new user would: every
// one is refused with a message that says what is wrong, and nothing fails open.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "detector.h"
#include "image_file.h"
#include "metrics.h"
#include "model.h"
#include "safetensors.h"
#include "test_support.h"
#include "trainer.h"

using namespace differnet;

namespace {

std::string saved_tiny_model(const std::string& dir, const std::string& name = "tiny.model") {
  Model m = fixtures::tiny_model(3, 16);
  m.calibration = Calibration{true, 1.0, 1, "test", 10, 0.8, 0.2, 1.1, 0.0, {}};
  const std::string path = dir + "/" + name;
  save_model(m, path);
  return path;
}

std::string load_error(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Overwrites one float of tensor `name` in the file with `value`, leaving the rest as written.
void poke_float(const std::string& path, const std::string& name, float value, bool keep_digest) {
  SafetensorsFile f = read_safetensors(path);
  std::memcpy(f.tensors.at(name).bytes.data() + 4 * 5, &value, 4);
  if (!keep_digest) f.metadata.erase("tensor_sha256");  // as a file written before digests existed
  write_safetensors(path, f);
}

}  // namespace

// Item 1: a NaN or Inf in any weight is refused at load, with or without a digest in the file.
TEST(Hardening, NonFiniteWeightsAreRefused) {
  const std::string dir = fixtures::temp_dir();
  for (const std::string tensor : {"flow.block3.subnet1.fc0.weight", "backbone.conv13.weight"}) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      const std::string path = saved_tiny_model(dir);
      poke_float(path, tensor, bad, /*keep_digest=*/false);
      const std::string e = load_error(path);
      EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
      EXPECT_NE(e.find(tensor), std::string::npos) << e;
    }
  }
}

// Item 1: bytes changed after writing are caught by the stored digest, even when they stay finite.
TEST(Hardening, FlippedTensorBytesFailTheDigest) {
  const std::string dir = fixtures::temp_dir();
  const std::string path = saved_tiny_model(dir);
  EXPECT_EQ(load_error(path), "");
  EXPECT_NE(read_safetensors(path).metadata.count("tensor_sha256"), 0u);
  poke_float(path, "flow.block0.subnet2.fc1.bias", 0.5f, /*keep_digest=*/true);
  const std::string e = load_error(path);
  EXPECT_NE(e.find("does not match the digest"), std::string::npos) << e;
}

// Item 1: a non-finite score never reads as "good": the Detector throws, and ROC AUC refuses NaN.
TEST(Hardening, NonFiniteScoresFailClosed) {
  EXPECT_THROW(roc_auc({0.1, std::nan(""), 0.3}, {0, 1, 1}), Error);
  EXPECT_THROW(roc_auc({0.1, INFINITY, 0.3}, {0, 1, 1}), Error);
}

// Item 2: huge coordinates neither wrap around nor crash; parsing refuses out-of-range numbers.
TEST(Hardening, HugeRegionsAreRefused) {
  const Region r = Region::parse("2147483640,0,100,100");
  EXPECT_FALSE(r.fits(640, 480));
  EXPECT_FALSE(Region::parse("0,2147483640,100,100").fits(640, 480));
  EXPECT_FALSE(Region::parse("10,10,2147483647,2147483647").fits(640, 480));
  EXPECT_TRUE(Region::parse("10,10,630,470").fits(640, 480));
  EXPECT_FALSE(Region::parse("10,10,631,470").fits(640, 480));
  EXPECT_THROW(Region::parse("99999999999,0,10,10"), Error);
  EXPECT_THROW(Region::parse("1,2,3"), Error);
  EXPECT_THROW(Region::parse("1,2,3,4,5"), Error);
  EXPECT_THROW(Region::parse("1,2,3,4x"), Error);
  EXPECT_THROW(Region::parse(" 1,2,3,4"), Error);
  EXPECT_THROW(Region::parse("-1,2,3,4"), Error);

  std::vector<uint8_t> pixels(64 * 48 * 3, 100);
  FrameView frame{pixels.data(), 64, 48, 64 * 3, PixelFormat::RGB};
  EXPECT_THROW(check_frame(frame, Region{INT_MAX - 7, 0, 100, 100}), Error);
  EXPECT_THROW(check_frame(frame, Region{0, INT_MAX - 7, 100, 100}), Error);
  EXPECT_NO_THROW(check_frame(frame, Region{0, 0, 64, 48}));
}

// Item 5: a directory, a FIFO or a file claiming huge tensors: a clear message, no hang, no allocation.
TEST(Hardening, ModelPathsThatAreNotModelFiles) {
  const std::string dir = fixtures::temp_dir();
  std::string e = load_error(dir);
  EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
  const std::string fifo = dir + "/model.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  e = load_error(fifo);  // would block in open() if it were opened
  EXPECT_NE(e.find("not a regular file"), std::string::npos) << e;

  const std::string huge = dir + "/huge.safetensors";
  const std::string header =
      R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}})";
  std::ofstream out(huge, std::ios::binary);
  uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << std::string(16, '\0');
  out.close();
  try {
    read_safetensors(huge);
    ADD_FAILURE() << "a file claiming 2^64 floats was read";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("claims more data than the file holds"), std::string::npos) << err.what();
  }
}

// Item 5: a learning rate that makes the loss explode is an error that says what to change.
TEST(Hardening, DivergingTrainingIsAnError) {
  Model model = fixtures::tiny_model(2, 16);
  std::vector<Image> good;
  for (int i = 0; i < 4; ++i) good.push_back(fixtures::make_texture(96, 96, 70 + i));
  TrainOptions o;
  o.epochs = 30;
  o.batch_size = 2;
  o.feature_cache = 4;
  o.lr = 1.0;
  try {
    train_flow(model, fixtures::resized_for_training(good, 128), o);
    ADD_FAILURE() << "training with lr 1 did not diverge";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lower the learning rate"), std::string::npos) << e.what();
  }
}

// An image whose header declares more than kMaxImagePixels is refused before it is decoded (a 1 MB
// PNG of 20000 x 20000 pixels once took 12 GB to train on); the header sizes of PNG, JPEG and BMP
// files are read without decoding them.
TEST(Hardening, HugeImagesAreRefusedBeforeDecoding) {
  const std::string dir = fixtures::temp_dir();
  // A PNG signature, an IHDR chunk declaring 20000 x 20000 RGB, and an IEND chunk (the file ends
  // properly; its pixels would never be reached).
  const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                               0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  const std::string huge = dir + "/huge.png";
  std::ofstream(huge, std::ios::binary).write(reinterpret_cast<const char*>(png), sizeof png);
  EXPECT_EQ(image_header_size(huge), std::make_pair(20000, 20000));
  try {
    read_image(huge);
    ADD_FAILURE() << "a 400 MP image was decoded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("20000x20000"), std::string::npos) << what;
    EXPECT_NE(what.find("downscale"), std::string::npos) << what;
  }
  const Image small = fixtures::make_texture(40, 24, 1);
  for (const std::string ext : {"png", "jpg", "bmp"}) {
    write_image(dir + "/small." + ext, small);
    EXPECT_EQ(image_header_size(dir + "/small." + ext), std::make_pair(40, 24)) << ext;
  }
  EXPECT_THROW(check_image_pixels("a frame", 16384, 4097), Error);
  EXPECT_NO_THROW(check_image_pixels("a frame", 16384, 4096));
}
