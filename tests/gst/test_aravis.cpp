// Issue 15: differnetfilter behind a real GenICam source element. Aravis's aravissrc reads its
// in-process fake camera ("Fake_1", enabled with arv_enable_interface ("Fake")): the same GenICam
// feature tree, stream and buffer path as a camera, without a network. (The GigE Vision emulator,
// arv-fake-gv-camera-0.8, delivered no frame on loopback here: README, "GenICam cameras".)
#include <arv.h>
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "test_support.h"

using namespace differnet;

namespace {

bool fake_camera_present() {
  arv_enable_interface("Fake");
  arv_update_device_list();
  for (unsigned i = 0; i < arv_get_n_devices(); ++i)
    if (std::string(arv_get_device_id(i)) == "Fake_1") return true;
  return false;
}

// Runs `description` to EOS (or an error, returned as text; "" on success).
std::string run_to_eos(const std::string& description) {
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &error);
  if (!pipeline) {
    std::string msg = error ? error->message : "parse failed";
    g_clear_error(&error);
    return msg;
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND,
                                               static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  std::string result = msg ? "" : "no EOS within 60 s";
  if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    result = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " + err->message;
    g_clear_error(&err);
  }
  if (msg) gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return result;
}

}  // namespace

// N frames from the fake camera (Mono8, 512x512) -> N JSON lines with scores, in frame order.
TEST(Aravis, FakeCameraFramesAreScored) {
  ASSERT_TRUE(fake_camera_present()) << "Aravis's Fake interface lists no Fake_1 camera";
  GstElementFactory* src = gst_element_factory_find("aravissrc");
  ASSERT_NE(src, nullptr) << "aravissrc not found: install libaravis-0.8-0 (scripts/install-deps.sh)";
  gst_object_unref(src);
  const std::string dir = fixtures::temp_dir();
  const std::string model = dir + "/model", results = dir + "/results.jsonl";
  save_model(fixtures::tiny_model(), model);
  const int frames = 6;
  const std::string error =
      run_to_eos("aravissrc camera-name=Fake_1 num-buffers=" + std::to_string(frames) +
                 " ! video/x-raw,format=GRAY8 ! videoconvert ! differnetfilter model=" + model +
                 " threshold=100 results-file=" + results + " ! fakesink");  // (the model is not calibrated)
  ASSERT_EQ(error, "");
  std::ifstream in(results);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.at("score").is_number()) << line;
    EXPECT_EQ(j.at("frame").get<int>(), n) << "frames out of order: " << line;
    ++n;
  }
  EXPECT_EQ(n, frames);
}

// A camera name that does not exist is an error from the source, not a hang or a crash.
TEST(Aravis, UnknownCameraIsAnError) {
  const std::string dir = fixtures::temp_dir();
  save_model(fixtures::tiny_model(), dir + "/model");
  const std::string error = run_to_eos("aravissrc camera-name=No-Such-Camera num-buffers=2 ! videoconvert ! "
                                       "differnetfilter model=" + dir + "/model threshold=100 ! fakesink");
  EXPECT_NE(error, "");
  std::printf("unknown camera: %s\n", error.c_str());
}
