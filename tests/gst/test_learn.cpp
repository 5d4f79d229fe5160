// differnetfilter's learn mode under GstHarness: learning from generated good frames,
// switching to inspection and flagging generated defective frames; learning while an old model
// keeps inspecting, finished early by the action signal; EOS while collecting; bad settings and
// paths refused before anything is collected. Tiny training settings keep each run to seconds.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gst/differnet/differnetmeta.h>
#include "metrics.h"
#include "model.h"
#include "test_support.h"

using namespace differnet;
namespace fs = std::filesystem;

namespace {

constexpr int kSize = 96;
const char* kCaps = "video/x-raw,format=RGB,width=96,height=96,framerate=30/1";
// Small training settings, those of the element tests' fixture model (fixtures::train_texture_model):
// the method's last layer and rotations on a 128-px input, a narrow flow, 40 epochs on a cache of
// 8 rotations per frame (seconds on 2 cores); scored and calibrated at T = 4.
const char* kTiny = "learn-preset=paper learn-settings=\"s,input-size=128,flow-width=64,epochs=40,batch-size=6,"
                    "feature-cache=8,lr=0.001,seed=3,calibration-transforms=4\" transforms=4 learn-interval=1 "
                    "learn-min-difference=0 overlay=none ";

GstBuffer* frame(const Image& img, int index) {
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, img.pixels.size(), nullptr);
  gst_buffer_fill(buf, 0, img.pixels.data(), img.pixels.size());
  GST_BUFFER_PTS(buf) = index * GST_SECOND / 30;
  return buf;
}
Image good(int i) { return fixtures::make_texture(kSize, kSize, 100 + i); }
Image defective(int i) { return fixtures::make_texture(kSize, kSize, 5000 + i, fixtures::Spot{20 + 5 * (i % 10), 30 + 3 * (i % 10), 6}); }

GstElement* filter(GstHarness* h) {
  GstElement* f = gst_bin_get_by_name(GST_BIN(h->element), "f");
  gst_object_unref(f);
  return f;
}

// Everything posted on a bus, sorted: element messages by name, warnings and errors as text.
// (gst_bus_pop_filtered drops what does not match, so one drain takes all kinds at once.)
struct Posted {
  std::vector<GstStructure*> learn, changed;
  std::vector<std::string> warnings, errors;
  ~Posted() { clear(); }
  void clear() {
    for (auto* v : {&learn, &changed})
      for (GstStructure* s : *v) gst_structure_free(s);
    learn.clear();
    changed.clear();
    warnings.clear();
    errors.clear();
  }
  void drain(GstBus* bus) {
    while (GstMessage* m = gst_bus_pop(bus)) {
      if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT) {
        const GstStructure* s = gst_message_get_structure(m);
        if (gst_structure_has_name(s, "differnet-learn")) learn.push_back(gst_structure_copy(s));
        if (gst_structure_has_name(s, "model-changed")) changed.push_back(gst_structure_copy(s));
      } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_WARNING || GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
        GError* err = nullptr;
        gchar* debug = nullptr;
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) gst_message_parse_error(m, &err, &debug);
        else gst_message_parse_warning(m, &err, &debug);
        (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR ? errors : warnings)
            .push_back(std::string(err->message) + " | " + (debug ? debug : ""));
        g_error_free(err);
        g_free(debug);
      }
      gst_message_unref(m);
    }
  }
  std::string all_warnings() const {
    std::string t;
    for (const auto& w : warnings) t += w + "\n";
    return t;
  }
};

GstHarness* learn_harness(const std::string& props, GstBus* bus) {
  GstHarness* h = gst_harness_new_parse(("differnetfilter name=f device=" + fixtures::test_device() + " " + props).c_str());
  gst_element_set_bus(h->element, bus);
  gst_harness_set_src_caps_str(h, kCaps);
  return h;
}

}  // namespace

// No model file yet: 24 good frames are collected (they leave unscored, without meta); a first model
// (the pooled Gaussian's) is written and takes over while the flow trains in the background as frames
// keep flowing; the trained model is written and takes over; from then on good
// frames score low and defective ones high (ROC AUC printed and asserted well above chance).
// The results file and snapshot folder set at start are written from the first scored frame on,
// though no model existed at start.
TEST(Learn, LearnsFromTheStreamThenInspects) {
  const std::string dir = fixtures::temp_dir(), model = dir + "/learnt.model";
  const std::string results = dir + "/results.jsonl", snapshots = dir + "/snapshots";
  GstBus* bus = gst_bus_new();
  GstHarness* h = learn_harness(std::string(kTiny) + "mode=learn learn-frames=24 model=" + model +
                                " results-file=" + results + " snapshot-dir=" + snapshots, bus);
  EXPECT_TRUE(fs::is_directory(snapshots)) << "made at start, before any model";
  int i = 0;
  for (; i < 24; ++i) {
    ASSERT_EQ(gst_harness_push(h, frame(good(i), i)), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    EXPECT_EQ(gst_buffer_get_differnet_meta(out), nullptr) << "no model yet: frame " << i << " is unscored";
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 30);
    gst_buffer_unref(out);
  }
  Posted posted;
  posted.drain(bus);
  const auto& learn = posted.learn;
  ASSERT_GE(learn.size(), 25u);
  int collected = 0;
  EXPECT_STREQ(gst_structure_get_string(learn[23], "phase"), "collecting");
  gst_structure_get_int(learn[23], "frames-collected", &collected);
  EXPECT_EQ(collected, 24);
  EXPECT_STREQ(gst_structure_get_string(learn[24], "phase"), "training");
  posted.clear();

  // Frames keep flowing while it trains. The first model (the pooled Gaussian's, no training) takes
  // over seconds after collection ends; the trained one replaces it. Frames are pushed until one
  // carries the final model's id.
  std::vector<std::string> ids;  // each scored frame's model id, in order
  std::string final_id;
  const gint64 deadline = g_get_monotonic_time() + 300 * G_USEC_PER_SEC;
  while ((final_id.empty() || ids.empty() || ids.back() != final_id) && g_get_monotonic_time() < deadline) {
    ASSERT_EQ(gst_harness_push(h, frame(good(i), i)), GST_FLOW_OK);
    ++i;
    GstBuffer* out = gst_harness_pull(h);
    if (const GstDifferNetMeta* m = gst_buffer_get_differnet_meta(out)) ids.push_back(m->model_id);
    gst_buffer_unref(out);
    posted.drain(bus);
    for (const GstStructure* s : learn)
      if (std::string(gst_structure_get_string(s, "phase")) == "done") final_id = gst_structure_get_string(s, "model-id");
    if (final_id.empty() || ids.empty() || ids.back() != final_id) g_usleep(20000);
  }
  ASSERT_FALSE(ids.empty()) << "no model after 300 s: " << posted.all_warnings();
  EXPECT_TRUE(posted.errors.empty()) << posted.errors.front();
  ASSERT_TRUE(fs::exists(model));
  ASSERT_FALSE(final_id.empty()) << "no done message after 300 s";
  ASSERT_EQ(ids.back(), final_id);
  // The first model's message came before the done message, with its id, threshold and time.
  const GstStructure* first = nullptr;
  for (const GstStructure* s : learn)
    if (std::string(gst_structure_get_string(s, "phase")) == "first-model") first = s;
  ASSERT_NE(first, nullptr);
  const std::string first_id = gst_structure_get_string(first, "model-id");
  EXPECT_NE(first_id, final_id);
  double first_threshold = 0, first_time = -1;
  gst_structure_get_double(first, "threshold", &first_threshold);
  gst_structure_get_double(first, "first-model-time", &first_time);
  EXPECT_GT(first_threshold, 0);
  EXPECT_GE(first_time, 0);
  // Every scored frame carries the first model's id until the final one's (the final model may
  // take over before any frame met the first one: training is seconds here).
  size_t k = 0;
  while (k < ids.size() && ids[k] == first_id) ++k;
  for (; k < ids.size(); ++k) EXPECT_EQ(ids[k], final_id) << "scored frame " << k;
  EXPECT_GE(posted.changed.size(), 1u);
  EXPECT_LE(posted.changed.size(), 2u);
  const GstStructure* done = learn.back();
  EXPECT_STREQ(gst_structure_get_string(done, "phase"), "done");
  EXPECT_STREQ(gst_structure_get_string(done, "model"), model.c_str());
  int train_frames = 0, holdout = 0;
  gst_structure_get_int(done, "train-frames", &train_frames);
  gst_structure_get_int(done, "holdout-frames", &holdout);
  EXPECT_EQ(train_frames + holdout, 24);
  EXPECT_EQ(holdout, 2);  // 10 %, at least 2, as differnet-train
  gint mode = -1;
  gchar* now = nullptr;
  g_object_get(filter(h), "mode", &mode, "model", &now, nullptr);
  EXPECT_EQ(mode, 0);  // back to inspect
  EXPECT_EQ(std::string(now), model);
  g_free(now);

  // Inspection with the learnt model: unseen good frames against frames with a dark spot.
  std::vector<double> scores;
  std::vector<int> labels;
  for (int k = 0; k < 16; ++k) {
    const bool bad = k % 2;
    ASSERT_EQ(gst_harness_push(h, frame(bad ? defective(k) : good(1000 + k), i++)), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    const GstDifferNetMeta* m = gst_buffer_get_differnet_meta(out);
    ASSERT_NE(m, nullptr);
    EXPECT_FALSE(m->reused);
    scores.push_back(m->score);
    labels.push_back(bad);
    gst_buffer_unref(out);
  }
  const double auroc = roc_auc(scores, labels);
  if (!posted.warnings.empty()) std::printf("warnings: %s", posted.all_warnings().c_str());
  std::printf("learn mode: ROC AUC %.3f on 8 good and 8 defective generated frames\n", auroc);
  EXPECT_GE(auroc, 0.9);
  gst_harness_teardown(h);  // closes the results file
  // One results line per scored frame (those while training and the 16 above), a snapshot per anomaly.
  std::ifstream in(results);
  std::string line;
  int lines = 0, anomalies = 0;
  while (std::getline(in, line)) {
    ++lines;
    anomalies += nlohmann::json::parse(line).at("anomaly").get<bool>();
  }
  EXPECT_EQ(lines, static_cast<int>(ids.size()) + 16);
  EXPECT_GT(anomalies, 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(snapshots), {}), anomalies);
  gst_object_unref(bus);
}

// mode=learn set while PLAYING on a running model: every frame keeps its meta from the old model
// while frames are collected; finish-learning trains on the 6 collected so far; the first model and
// then the trained one take over (a model-changed message names both files at each change).
TEST(Learn, LearnWhilePlayingAndFinishEarly) {
  const std::string dir = fixtures::temp_dir();
  const std::string old_model = dir + "/old.model", learnt = dir + "/new.model";
  fixtures::train_texture_model(old_model, kSize, 8, 10);
  GstBus* bus = gst_bus_new();
  GstHarness* h = learn_harness(std::string(kTiny) + "post-messages=false learn-frames=1000 model=" + old_model +
                                " learn-output=" + learnt, bus);
  std::vector<std::string> ids;
  int i = 0;
  auto push = [&] {
    ASSERT_EQ(gst_harness_push(h, frame(good(i), i)), GST_FLOW_OK);
    ++i;
    GstBuffer* out = gst_harness_pull(h);
    const GstDifferNetMeta* m = gst_buffer_get_differnet_meta(out);
    ASSERT_NE(m, nullptr) << "frame " << i - 1 << " left without meta";
    ids.push_back(m->model_id);
    gst_buffer_unref(out);
  };
  push();
  g_object_set(filter(h), "mode", 1, nullptr);
  for (int k = 0; k < 6; ++k) push();
  g_signal_emit_by_name(filter(h), "finish-learning");
  const gint64 deadline = g_get_monotonic_time() + 300 * G_USEC_PER_SEC;
  while (ids.back() == ids.front() && g_get_monotonic_time() < deadline) {
    push();
    if (ids.back() == ids.front()) g_usleep(20000);
  }
  Posted posted;
  posted.drain(bus);
  ASSERT_NE(ids.back(), ids.front()) << posted.all_warnings();
  // The first model (the Gaussian's) and then the trained one take over; the trained one may come
  // before any frame met the first.
  std::string final_id;
  const gint64 done_deadline = g_get_monotonic_time() + 300 * G_USEC_PER_SEC;
  while ((final_id.empty() || ids.back() != final_id) && g_get_monotonic_time() < done_deadline) {
    for (const GstStructure* s : posted.learn)
      if (std::string(gst_structure_get_string(s, "phase")) == "done") final_id = gst_structure_get_string(s, "model-id");
    if (!final_id.empty() && ids.back() == final_id) break;
    push();
    g_usleep(20000);
    posted.drain(bus);
  }
  ASSERT_EQ(ids.back(), final_id) << posted.all_warnings();
  int changes = 0;
  for (size_t k = 1; k < ids.size(); ++k) changes += ids[k] != ids[k - 1];
  EXPECT_GE(changes, 1);
  EXPECT_LE(changes, 2);
  const auto& changed = posted.changed;
  ASSERT_EQ(changed.size(), static_cast<size_t>(changes));
  EXPECT_STREQ(gst_structure_get_string(changed[0], "old-model"), old_model.c_str());
  for (const GstStructure* c : changed) EXPECT_STREQ(gst_structure_get_string(c, "model"), learnt.c_str());
  // The first model scores with the Gaussian alone; the trained one with the preset's image score.
  if (changes == 2) {
    EXPECT_STREQ(gst_structure_get_string(changed[0], "image-score"), "gaussian");
  }
  EXPECT_STREQ(gst_structure_get_string(changed.back(), "image-score"), "flow");  // learn-preset=paper
  EXPECT_TRUE(posted.errors.empty()) << posted.errors.front();
  ASSERT_FALSE(posted.learn.empty());
  EXPECT_STREQ(gst_structure_get_string(posted.learn.back(), "phase"), "done");
  gboolean early = FALSE;
  gst_structure_get_boolean(posted.learn.back(), "stopped-early", &early);
  EXPECT_FALSE(early);  // finish-learning while collecting: a full training on the frames so far
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// EOS while collecting: with enough frames the model is trained and written before EOS goes on;
// with too few, a warning says so and nothing is written.
TEST(Learn, EndOfStreamWhileCollecting) {
  for (const int frames : {6, 2}) {
    const std::string model = fixtures::temp_dir() + "/eos.model";
    GstBus* bus = gst_bus_new();
    GstHarness* h = learn_harness(std::string(kTiny) + "mode=learn learn-frames=50 model=" + model, bus);
    for (int i = 0; i < frames; ++i) {
      ASSERT_EQ(gst_harness_push(h, frame(good(i), i)), GST_FLOW_OK);
      gst_buffer_unref(gst_harness_pull(h));
    }
    ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    Posted posted;
    posted.drain(bus);
    const auto& learn = posted.learn;
    ASSERT_FALSE(learn.empty());
    const std::string last = gst_structure_get_string(learn.back(), "phase");
    if (frames == 6) {
      EXPECT_EQ(last, "done");
      EXPECT_TRUE(fs::exists(model)) << "the model is written before EOS goes on";
      EXPECT_EQ(posted.all_warnings().find("Learning ended"), std::string::npos);
    } else {
      EXPECT_EQ(last, "too-few");
      EXPECT_FALSE(fs::exists(model));
      const std::string w = posted.all_warnings();
      EXPECT_NE(w.find("Learning ended with the stream after 2 of 50 frames"), std::string::npos) << w;
    }
    gst_harness_teardown(h);
    gst_object_unref(bus);
  }
}

// image-score=auto in learn-settings: with 10 frames held out the learnt model's image score is chosen
// on them with synthetic defects planted, and the model records how.
TEST(Learn, ChoosesTheImageScoreOnHeldOutFrames) {
  const std::string model = fixtures::temp_dir() + "/auto.model";
  GstBus* bus = gst_bus_new();
  GstHarness* h = learn_harness("learn-preset=paper learn-settings=\"s,input-size=128,flow-width=32,epochs=4,batch-size=6,"
                                "feature-cache=4,lr=0.001,seed=3,image-score=auto,holdout=10\" learn-interval=1 "
                                "learn-min-difference=0 overlay=none mode=learn learn-frames=100 model=" + model, bus);
  for (int i = 0; i < 22; ++i) {
    ASSERT_EQ(gst_harness_push(h, frame(good(i), i)), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));  // learning ends with the stream: 12 train
  Posted posted;
  posted.drain(bus);
  ASSERT_FALSE(posted.learn.empty());
  EXPECT_STREQ(gst_structure_get_string(posted.learn.back(), "phase"), "done") << posted.all_warnings();
  ASSERT_TRUE(fs::exists(model));
  const Model m = load_model(model);
  EXPECT_EQ(m.config.image_score.chosen_by.rfind("auto: " + m.config.image_score.method +
                                                  " (ROC AUC on synthetic defects in 10 held-out good images", 0), 0u)
      << m.config.image_score.chosen_by;
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// What cannot end in a model is refused when learning would start, before a frame is collected:
// an unwritable model path, an unknown preset or setting, a bad value; learn-roi is checked like roi.
TEST(Learn, BadSettingsFailBeforeCollecting) {
  const std::string dir = fixtures::temp_dir();
  struct Case { std::string props, needle; };
  for (const Case& c : {Case{"model=/nonexistent-dir/x.model", "cannot write '/nonexistent-dir/x.model'"},
                        Case{"model=" + dir + "/a.model learn-preset=fastest", "unknown preset 'fastest'"},
                        Case{"model=" + dir + "/a.model learn-settings=\"s,epoch=3\"", "unknown learn setting 'epoch'"},
                        Case{"model=" + dir + "/a.model learn-settings=\"s,input-size=abc\"", "input-size='abc'"},
                        Case{"model=" + dir + "/a.model learn-settings=garbage", "learn-settings 'garbage' names no setting"},
                        Case{"model=" + dir + "/a.model learn-roi=1,2,x", "learn-roi"}}) {
    GError* err = nullptr;
    GstElement* e = gst_parse_launch(("differnetfilter mode=learn " + c.props).c_str(), &err);
    ASSERT_EQ(err, nullptr) << c.props;
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE) << c.props;
    Posted posted;
    posted.drain(bus);
    const std::string error = posted.errors.empty() ? "" : posted.errors.front();
    EXPECT_NE(error.find(c.needle), std::string::npos) << c.props << ": " << error;
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
  EXPECT_FALSE(fs::exists(dir + "/a.model"));
}

// Caps change while collecting (frames of two sizes are both kept: each is resized to the model's
// input), then a model file that cannot be written when training ends (its folder is gone): the run
// fails with a warning naming the reason, and with no other model to inspect with, an error.
TEST(Learn, CapsChangeAndAFailedWrite) {
  const std::string dir = fixtures::temp_dir() + "/gone";
  fs::create_directories(dir);
  GstBus* bus = gst_bus_new();
  GstHarness* h = learn_harness(std::string(kTiny) + "mode=learn learn-frames=50 model=" + dir + "/m.model", bus);
  int i = 0;
  for (; i < 4; ++i) {
    ASSERT_EQ(gst_harness_push(h, frame(good(i), i)), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));
  }
  gst_harness_set_src_caps_str(h, "video/x-raw,format=RGB,width=128,height=96,framerate=30/1");
  for (; i < 8; ++i) {
    ASSERT_EQ(gst_harness_push(h, frame(fixtures::make_texture(128, 96, 300 + i), i)), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    EXPECT_EQ(gst_buffer_get_size(out), 128u * 96u * 3u);
    gst_buffer_unref(out);
  }
  fs::remove_all(dir);
  gst_harness_push_event(h, gst_event_new_eos());
  Posted posted;
  posted.drain(bus);
  ASSERT_FALSE(posted.learn.empty());
  int collected = 0;
  for (const GstStructure* s : posted.learn) gst_structure_get_int(s, "frames-collected", &collected);
  EXPECT_EQ(collected, 8);
  EXPECT_STREQ(gst_structure_get_string(posted.learn.back(), "phase"), "failed");
  EXPECT_NE(posted.all_warnings().find("Learning failed: cannot write"), std::string::npos) << posted.all_warnings();
  ASSERT_FALSE(posted.errors.empty());
  EXPECT_NE(posted.errors.front().find("Learning ended without a model"), std::string::npos) << posted.errors.front();
  gst_harness_teardown(h);
  gst_object_unref(bus);
}
