// Model files: a round trip keeps everything; every kind of damage is refused with a message that
// names the file and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "model.h"
#include "safetensors.h"
#include "test_support.h"

using namespace differnet;

namespace {

std::string saved_tiny_model(const std::string& dir) {
  Model m = fixtures::tiny_model(3, 16);
  m.calibration = Calibration{true, 1.25, 8, "test", 10, 1.0, 0.2, 1.3, 0.0, {}};
  const std::string path = dir + "/tiny.safetensors";
  save_model(m, path);
  return path;
}

// Loads `path` expecting an Error whose message contains `needle` and the file name.
void expect_rejected(const std::string& path, const std::string& needle) {
  try {
    load_model(path);
    ADD_FAILURE() << "loaded a damaged file; expected: " << needle;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_NE(what.find(path), std::string::npos) << what;
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

// Rewrites the file with `edit` applied to its parsed container.
void rewrite(const std::string& src, const std::string& dst, const std::function<void(SafetensorsFile&)>& edit) {
  SafetensorsFile f = read_safetensors(src);
  edit(f);
  write_safetensors(dst, f);
}

}  // namespace

// Save then load: same configuration, calibration and weights; no temporary file left behind.
TEST(ModelFile, RoundTrip) {
  const std::string dir = fixtures::temp_dir();
  Model a = fixtures::tiny_model(3, 16);
  a.calibration = Calibration{true, 2.5, 16, "round trip", 5, 1.0, 0.5, 2.6, 0.0, {}};
  save_model(a, dir + "/m.safetensors");
  Model b = load_model(dir + "/m.safetensors");
  EXPECT_EQ(b.config.to_json(), a.config.to_json());
  EXPECT_EQ(b.calibration.to_json(), a.calibration.to_json());
  for (const auto& [name, t] : a.flow.named_tensors()) EXPECT_TRUE(t.equal(b.flow.named_tensors().at(name))) << name;
  for (const auto& [name, t] : a.extractor.backbone().trunk_tensors())
    EXPECT_TRUE(t.equal(b.extractor.backbone().trunk_tensors().at(name))) << name;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
}

TEST(ModelFile, MissingFile) { expect_rejected("/nonexistent/model.safetensors", "cannot be opened"); }

TEST(ModelFile, TruncatedFiles) {
  const std::string dir = fixtures::temp_dir(), path = saved_tiny_model(dir);
  const std::string data = read_all(path);
  write_all(dir + "/short.safetensors", data.substr(0, 5));
  expect_rejected(dir + "/short.safetensors", "too short");
  write_all(dir + "/header.safetensors", data.substr(0, 200));
  expect_rejected(dir + "/header.safetensors", "header length");
  write_all(dir + "/body.safetensors", data.substr(0, data.size() - 100));
  expect_rejected(dir + "/body.safetensors", "outside the file");
}

TEST(ModelFile, CorruptHeader) {
  const std::string dir = fixtures::temp_dir(), path = saved_tiny_model(dir);
  std::string data = read_all(path);
  data[8] = '#';  // first byte of the JSON header
  write_all(dir + "/json.safetensors", data);
  expect_rejected(dir + "/json.safetensors", "not valid JSON");
  write_all(dir + "/text.safetensors", "this is not a model file at all, only text");
  expect_rejected(dir + "/text.safetensors", "header length");
}

TEST(ModelFile, WrongShapesAndDtypes) {
  const std::string dir = fixtures::temp_dir(), path = saved_tiny_model(dir);
  rewrite(path, dir + "/shape.safetensors", [](SafetensorsFile& f) {
    f.tensors["flow.block0.subnet1.fc0.bias"] = to_stored(at::zeros({3}));
  });
  expect_rejected(dir + "/shape.safetensors", "flow.block0.subnet1.fc0.bias");
  rewrite(path, dir + "/missing.safetensors", [](SafetensorsFile& f) { f.tensors.erase("backbone.conv0.weight"); });
  expect_rejected(dir + "/missing.safetensors", "conv0.weight' is missing");
  rewrite(path, dir + "/dtype.safetensors", [](SafetensorsFile& f) {
    StoredTensor& t = f.tensors["flow.block1.subnet2.fc1.bias"];
    t.dtype = "I32";  // same byte count, wrong type
  });
  expect_rejected(dir + "/dtype.safetensors", "dtype I32");
  rewrite(path, dir + "/extra.safetensors", [](SafetensorsFile& f) { f.tensors["junk"] = to_stored(at::zeros({1})); });
  expect_rejected(dir + "/extra.safetensors", "unexpected tensor 'junk'");
}

TEST(ModelFile, MetadataProblems) {
  const std::string dir = fixtures::temp_dir(), path = saved_tiny_model(dir);
  rewrite(path, dir + "/version.safetensors", [](SafetensorsFile& f) { f.metadata["format_version"] = "99"; });
  expect_rejected(dir + "/version.safetensors", "format version 99 is unknown");
  rewrite(path, dir + "/format.safetensors", [](SafetensorsFile& f) { f.metadata["format"] = "something-else"; });
  expect_rejected(dir + "/format.safetensors", "format is 'something-else'");
  rewrite(path, dir + "/noconfig.safetensors", [](SafetensorsFile& f) { f.metadata.erase("config"); });
  expect_rejected(dir + "/noconfig.safetensors", "no 'config'");
  rewrite(path, dir + "/badconfig.safetensors", [](SafetensorsFile& f) {
    f.metadata["config"] = R"({"backbone":"squeezenet1_1"})";
  });
  expect_rejected(dir + "/badconfig.safetensors", "configuration is malformed");
  rewrite(path, dir + "/nonsense.safetensors", [](SafetensorsFile& f) {
    ModelConfig c = ModelConfig::from_json(f.metadata["config"]);
    c.flow.blocks = 0;
    nlohmann::json j = nlohmann::json::parse(c.to_json());
    f.metadata["config"] = j.dump();
  });
  expect_rejected(dir + "/nonsense.safetensors", "flow blocks");
}

// The calibration block is checked like the tensors: a threshold edited to 1e308 (every frame would
// pass), a negative one, T = 0, or statistics that do not hold it are refused, naming the problem.
TEST(ModelFile, CalibrationIsChecked) {
  const std::string dir = fixtures::temp_dir(), path = saved_tiny_model(dir);
  const std::vector<std::pair<std::string, std::string>> edits = {
      {R"("threshold":1e308)", "above the largest good score"},
      {R"("threshold":-5.0)", "not a positive finite number"},
      {R"("threshold":0.0)", "not a positive finite number"},
      {R"("transforms":0)", "transforms=0"},
      {R"("good_count":1)", "at least 2 are needed"},
      {R"("good_max":0.5)", "exceeds their max"},
      {R"("threshold":0.1)", "below the good scores' median"},
      {R"("good_std":-1.0)", "not positive finite numbers"}};
  for (const auto& [edit, needle] : edits) {
    SCOPED_TRACE(edit);
    const std::string bad = dir + "/edited.safetensors";
    rewrite(path, bad, [&](SafetensorsFile& f) {
      nlohmann::json j = nlohmann::json::parse(f.metadata["calibration"]);
      j.update(nlohmann::json::parse("{" + edit + "}"));
      f.metadata["calibration"] = j.dump();
    });
    expect_rejected(bad, needle);
  }
  // An uncalibrated block is not checked (the element refuses to run on it without a threshold).
  rewrite(path, dir + "/uncalibrated.safetensors", [](SafetensorsFile& f) {
    nlohmann::json j = nlohmann::json::parse(f.metadata["calibration"]);
    j["calibrated"] = false;
    j["threshold"] = 0.0;
    f.metadata["calibration"] = j.dump();
  });
  EXPECT_FALSE(load_model(dir + "/uncalibrated.safetensors").calibration.calibrated);
  EXPECT_TRUE(load_model(path).calibration.calibrated);
}

// The container is standard safetensors: 8-byte length, JSON header, data 8-byte aligned.
TEST(ModelFile, StandardContainerLayout) {
  const std::string dir = fixtures::temp_dir(), path = saved_tiny_model(dir);
  const std::string data = read_all(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(data[i]);
  EXPECT_EQ(n % 8, 0u);
  auto header = nlohmann::json::parse(data.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["format"], "differnet-model");
  EXPECT_EQ(header["flow.block0.subnet1.fc0.weight"]["dtype"], "F32");
}
