// Stress tests of differnetfilter in real pipelines: hundreds of NULL -> PLAYING -> NULL
// cycles, some with frames still in flight; flushing seeks while frames are held; renegotiation
// every few frames; EOS with frames in flight; two elements in one pipeline. Every check is on what
// leaves the element (count, order, timestamps, meta) and on the bus (no error, no warning).
// DIFFERNET_STRESS_CYCLES overrides the number of state cycles (the sanitizer run uses fewer).
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include <gst/differnet/differnetmeta.h>
#include "test_support.h"

using namespace differnet;

namespace {

// What left one element: counted by a probe on the src pad of the element named `name`.
struct Seen {
  std::mutex lock;
  std::vector<GstClockTime> pts;
  std::vector<guint64> frames;
  int without_meta = 0;
};

// Counts buffers; a flush-stop starts the count again (what passed before the seek is not kept).
GstPadProbeReturn count_buffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* seen = static_cast<Seen*>(data);
  std::lock_guard<std::mutex> guard(seen->lock);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_FLUSH) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_FLUSH_STOP) {
      seen->pts.clear();
      seen->frames.clear();
    }
    return GST_PAD_PROBE_OK;
  }
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  seen->pts.push_back(GST_BUFFER_PTS(buf));
  const GstDifferNetMeta* m = gst_buffer_get_differnet_meta(buf);
  if (m) seen->frames.push_back(m->frame);
  else ++seen->without_meta;
  return GST_PAD_PROBE_OK;
}

void watch(GstElement* pipeline, const char* name, Seen* seen) {
  GstElement* e = gst_bin_get_by_name(GST_BIN(pipeline), name);
  ASSERT_NE(e, nullptr) << name;
  GstPad* pad = gst_element_get_static_pad(e, "src");
  gst_pad_add_probe(pad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH), count_buffer, seen, nullptr);
  gst_object_unref(pad);
  gst_object_unref(e);
}

// The first error or warning on the bus as text ("" if none); drains the bus.
std::string problems(GstBus* bus) {
  std::string text;
  while (GstMessage* m = gst_bus_pop_filtered(bus, static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) gst_message_parse_error(m, &err, &debug);
    else gst_message_parse_warning(m, &err, &debug);
    if (text.empty()) text = std::string(GST_MESSAGE_TYPE_NAME(m)) + ": " + err->message + " | " + (debug ? debug : "");
    g_error_free(err);
    g_free(debug);
    gst_message_unref(m);
  }
  return text;
}

// Waits for EOS or an error; true on EOS.
bool wait_eos(GstBus* bus, GstClockTime timeout = 60 * GST_SECOND) {
  GstMessage* m = gst_bus_timed_pop_filtered(bus, timeout, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (!m) return false;
  const bool eos = GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS;
  if (!eos) {
    GError* err = nullptr;
    gst_message_parse_error(m, &err, nullptr);
    ADD_FAILURE() << "error: " << err->message;
    g_error_free(err);
  }
  gst_message_unref(m);
  return eos;
}

// Waits until at least `count` buffers have been seen, for at most `timeout_s` seconds (generous: the
// sanitizer build scores a frame in up to a second on a loaded 2-core machine); true if they came.
bool wait_seen(Seen& seen, size_t count, double timeout_s = 60.0) {
  const gint64 deadline = g_get_monotonic_time() + static_cast<gint64>(timeout_s * G_USEC_PER_SEC);
  for (;;) {
    {
      std::lock_guard<std::mutex> guard(seen.lock);
      if (seen.pts.size() >= count) return true;
    }
    if (g_get_monotonic_time() > deadline) return false;
    g_usleep(2000);
  }
}

class Stress : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = fixtures::temp_dir() + "/stress.safetensors";
    fixtures::train_texture_model(model_, 64, 8, 10);
  }
  static std::string filter(const std::string& name, const std::string& props = "") {
    return "differnetfilter name=" + name + " model=" + model_ + " device=" + fixtures::test_device() +
           " overlay=none post-messages=false " + props;
  }
  static GstElement* launch(const std::string& description) {
    GError* err = nullptr;
    GstElement* p = gst_parse_launch(description.c_str(), &err);
    EXPECT_EQ(err, nullptr) << (err ? err->message : "");
    if (err) g_error_free(err);
    return p;
  }
  static inline std::string model_;
};

const char* kSource = "videotestsrc pattern=smpte ! video/x-raw,format=RGB,width=64,height=48,framerate=30/1";

}  // namespace

// NULL -> PLAYING -> NULL hundreds of times: even cycles run 3 frames to EOS and check them, odd
// cycles stop the pipeline as soon as it plays, with frames in flight. No error, no warning, no
// frame without meta, no leak of the held frames (the sanitizer run checks that).
TEST_F(Stress, HundredsOfStateCycles) {
  const char* env = std::getenv("DIFFERNET_STRESS_CYCLES");
  const int cycles = env ? std::atoi(env) : 200;
  GstElement* p = launch(std::string(kSource) + " ! " + filter("f", "frames-in-flight=3") +
                         " ! fakesink name=sink sync=false");
  GstElement* src = gst_bin_get_by_name(GST_BIN(p), "videotestsrc0");
  Seen seen;
  watch(p, "f", &seen);
  GstBus* bus = gst_element_get_bus(p);
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const bool to_eos = cycle % 2 == 0;
    g_object_set(src, "num-buffers", to_eos ? 3 : -1, nullptr);
    {
      std::lock_guard<std::mutex> guard(seen.lock);
      seen.pts.clear();
      seen.frames.clear();
    }
    ASSERT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE) << "cycle " << cycle;
    if (to_eos) {
      ASSERT_TRUE(wait_eos(bus)) << "cycle " << cycle;
      std::lock_guard<std::mutex> guard(seen.lock);
      ASSERT_EQ(seen.frames, (std::vector<guint64>{0, 1, 2})) << "cycle " << cycle;
      for (int i = 0; i < 3; ++i) EXPECT_EQ(seen.pts[i], i * GST_SECOND / 30);
    } else {
      ASSERT_EQ(gst_element_get_state(p, nullptr, nullptr, 30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
    }
    ASSERT_EQ(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS) << "cycle " << cycle;
    ASSERT_EQ(problems(bus), "") << "cycle " << cycle;
  }
  EXPECT_EQ(seen.without_meta, 0);
  gst_object_unref(bus);
  gst_object_unref(src);
  gst_object_unref(p);
}

// Flushing seeks while frames are held (frames-in-flight=3): each seek succeeds, the stream goes on
// from the seek position, every buffer that leaves has its meta; after the last seek EOS drains
// every held frame (the 30 frames after the last seek to 0 all arrive).
TEST_F(Stress, FlushingSeeksWithFramesInFlight) {
  GstElement* p = launch(std::string(kSource) + " ! " + filter("f", "frames-in-flight=3") +
                         " ! fakesink name=sink sync=false");
  Seen seen;
  watch(p, "f", &seen);
  GstBus* bus = gst_element_get_bus(p);
  ASSERT_NE(gst_element_set_state(p, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  ASSERT_EQ(gst_element_get_state(p, nullptr, nullptr, 30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  ASSERT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  for (int seek = 0; seek < 20; ++seek) {
    // Let a few frames through, then seek back (to 0, or to 1 s every other time).
    ASSERT_TRUE(wait_seen(seen, 4)) << "seek " << seek << ": the stream stalled (under 4 frames in 60 s)";
    const GstClockTime target = seek % 2 ? GST_SECOND : 0;
    ASSERT_TRUE(gst_element_seek_simple(p, GST_FORMAT_TIME,
                                        static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), target));
    ASSERT_EQ(gst_element_get_state(p, nullptr, nullptr, 30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
    ASSERT_TRUE(wait_seen(seen, 1)) << "seek " << seek << ": no frame within 60 s of the seek";
    std::lock_guard<std::mutex> guard(seen.lock);
    // The first buffer after the seek: its position (older held frames were dropped by the flush).
    EXPECT_EQ(seen.pts.front(), target) << "seek " << seek;
  }
  // A last seek to 0 with a stop at 1 s: exactly 30 frames, all through, before EOS.
  ASSERT_TRUE(gst_element_seek(p, 1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0,
                               GST_SEEK_TYPE_SET, GST_SECOND));
  ASSERT_TRUE(wait_eos(bus));
  {
    std::lock_guard<std::mutex> guard(seen.lock);
    ASSERT_EQ(seen.pts.size(), 30u);
    for (size_t i = 0; i < seen.pts.size(); ++i) {
      EXPECT_EQ(seen.pts[i], i * GST_SECOND / 30) << i;
      if (i > 0) {
        EXPECT_EQ(seen.frames[i], seen.frames[i - 1] + 1) << i;
      }
    }
  }
  EXPECT_EQ(seen.without_meta, 0);
  EXPECT_EQ(problems(bus), "");
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
}

// New caps every 3 frames (size and format change) with 3 frames in flight: the held frames leave
// before the new caps, every frame leaves once, in order, scored at its own size.
TEST_F(Stress, RenegotiationEveryFewFrames) {
  GstHarness* h = gst_harness_new_parse(filter("f", "frames-in-flight=3").c_str());
  struct Shape { int width, height; GstVideoFormat format; const char* name; };
  const Shape shapes[] = {{64, 48, GST_VIDEO_FORMAT_RGB, "RGB"}, {80, 40, GST_VIDEO_FORMAT_BGRx, "BGRx"},
                          {48, 64, GST_VIDEO_FORMAT_GRAY8, "GRAY8"}};
  std::vector<int> widths;
  constexpr int kFrames = 36;
  for (int i = 0; i < kFrames; ++i) {
    const Shape& s = shapes[(i / 3) % 3];
    if (i % 3 == 0)
      gst_harness_set_src_caps_str(h, ("video/x-raw,format=" + std::string(s.name) + ",width=" +
                                       std::to_string(s.width) + ",height=" + std::to_string(s.height) +
                                       ",framerate=30/1").c_str());
    GstVideoInfo info;
    gst_video_info_set_format(&info, s.format, s.width, s.height);
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, info.size, nullptr);
    gst_buffer_memset(buf, 0, static_cast<guint8>(40 + 5 * i), info.size);
    GST_BUFFER_PTS(buf) = i * GST_SECOND / 30;
    ASSERT_EQ(gst_harness_push(h, buf), GST_FLOW_OK) << "frame " << i;
    widths.push_back(s.width);
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), static_cast<guint>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_NE(out, nullptr);
    const GstDifferNetMeta* m = gst_buffer_get_differnet_meta(out);
    ASSERT_NE(m, nullptr) << "frame " << i;
    EXPECT_EQ(m->frame, static_cast<guint64>(i));
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 30);
    EXPECT_EQ(m->region_width, widths[i]) << "frame " << i;
    EXPECT_FALSE(m->reused);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

// EOS with frames in flight, and two elements in one pipeline (a tee, one branch holding frames):
// each element passes all 40 frames, in order, with their timestamps and meta, before EOS.
TEST_F(Stress, TwoElementsAndEosWithFramesInFlight) {
  GstElement* p = launch(std::string(kSource) + ",framerate=30/1 ! identity eos-after=41 ! tee name=t " +
                         "t. ! queue ! " + filter("a", "frames-in-flight=4") + " ! fakesink sync=false " +
                         "t. ! queue ! " + filter("b", "inference-interval=2") + " ! fakesink sync=false");
  Seen a, b;
  watch(p, "a", &a);
  watch(p, "b", &b);
  GstBus* bus = gst_element_get_bus(p);
  ASSERT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE(wait_eos(bus));
  for (Seen* s : {&a, &b}) {
    ASSERT_EQ(s->frames.size(), 40u);
    EXPECT_EQ(s->without_meta, 0);
    for (size_t i = 0; i < 40; ++i) {
      EXPECT_EQ(s->frames[i], i);
      EXPECT_EQ(s->pts[i], i * GST_SECOND / 30);
    }
  }
  guint64 scored_a = 0, scored_b = 0, reused_b = 0;
  GstElement* ea = gst_bin_get_by_name(GST_BIN(p), "a");
  GstElement* eb = gst_bin_get_by_name(GST_BIN(p), "b");
  g_object_get(ea, "frames-scored", &scored_a, nullptr);
  g_object_get(eb, "frames-scored", &scored_b, "frames-reused", &reused_b, nullptr);
  EXPECT_EQ(scored_a, 40u);
  EXPECT_EQ(scored_b, 20u);
  EXPECT_EQ(reused_b, 20u);
  EXPECT_EQ(problems(bus), "");
  gst_object_unref(ea);
  gst_object_unref(eb);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
}
