// differnetfilter under GstHarness: buffers, metadata, messages, results file, overlay, errors,
// renegotiation, state cycles, inference-interval, roi, snapshots. A tiny model is trained once
// on a synthetic texture (about 3 s).
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>
#include <fstream>
#include <nlohmann/json.hpp>

#include <gst/differnet/differnetmeta.h>
#include "runtime.h"
#include "test_support.h"

using namespace differnet;
namespace fs = std::filesystem;

namespace {

constexpr int kSize = 96;
const char* kCaps = "video/x-raw,format=RGB,width=96,height=96,framerate=30/1";
// Relative tolerances of a frame's score and gradient map computed two ways (batched against alone,
// other thread counts, another code path): derived from the float32 sums in series of the fixture
// model (test_support.h), not from what one CPU printed. Same shapes on the same path compute
// identically on the CPU and are compared to 1e-6 (CUDA's kernels may vary).
const double kScoreTol = fixtures::tiny_model_tolerance(64);
const double kMapTol = fixtures::tiny_model_tolerance(64, true);

class Element : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = fixtures::temp_dir() + "/texture.safetensors";
    fixtures::train_texture_model(model_, kSize);
  }

  // A harness around a differnetfilter with `model` set, then the given properties.
  static GstHarness* harness(const std::string& props = "", const char* caps = kCaps) {
    GstHarness* h = gst_harness_new_parse(
        ("differnetfilter name=f model=" + model_ + " device=" + fixtures::test_device() + " " + props).c_str());
    gst_harness_set_src_caps_str(h, caps);
    return h;
  }

  // A buffer holding `img` laid out as `format` with GStreamer's default strides.
  static GstBuffer* frame(const Image& img, GstVideoFormat format = GST_VIDEO_FORMAT_RGB) {
    GstVideoInfo info;
    gst_video_info_set_format(&info, format, img.width, img.height);
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, info.size, nullptr);
    GstVideoFrame vf;
    gst_video_frame_map(&vf, &info, buf, GST_MAP_WRITE);
    const int bpp = GST_VIDEO_FRAME_COMP_PSTRIDE(&vf, 0);
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x) {
        uint8_t* d = static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, 0)) + y * GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0) + x * bpp;
        const uint8_t* s = &img.pixels[(static_cast<size_t>(y) * img.width + x) * 3];
        if (bpp == 1) d[0] = s[0];
        else if (format == GST_VIDEO_FORMAT_BGR || format == GST_VIDEO_FORMAT_BGRx) d[0] = s[2], d[1] = s[1], d[2] = s[0];
        else d[0] = s[0], d[1] = s[1], d[2] = s[2];
      }
    gst_video_frame_unmap(&vf);
    return buf;
  }

  static Image good(int i, int size = kSize) { return fixtures::make_texture(size, size, 700 + i); }
  static fixtures::Spot spot(int i) { return {20 + 5 * (i % 10), 30 + 3 * (i % 10), 6}; }
  static Image defective(int i) { return fixtures::make_texture(kSize, kSize, 800 + i, spot(i)); }

  // The differnetfilter inside a harness (gst_harness_new_parse wraps it in a bin).
  static GstElement* filter(GstHarness* h) {
    GstElement* f = gst_bin_get_by_name(GST_BIN(h->element), "f");
    gst_object_unref(f);  // the bin keeps it alive
    return f;
  }

  static GstDifferNetMeta* meta(GstBuffer* b) { return gst_buffer_get_differnet_meta(b); }

  static std::vector<uint8_t> bytes(GstBuffer* b) {
    std::vector<uint8_t> out(gst_buffer_get_size(b));
    gst_buffer_extract(b, 0, out.data(), out.size());
    return out;
  }

  static inline std::string model_;
};

// The text of the first error or warning message (`type`) posted on `bus`, or "" if none.
std::string pop_message(GstBus* bus, GstMessageType type) {
  GstMessage* m = gst_bus_pop_filtered(bus, type);
  if (!m) return "";
  GError* err = nullptr;
  gchar* debug = nullptr;
  if (type == GST_MESSAGE_ERROR) gst_message_parse_error(m, &err, &debug);
  else gst_message_parse_warning(m, &err, &debug);
  std::string text = std::string(err->message) + " | " + (debug ? debug : "");
  g_error_free(err);
  g_free(debug);
  gst_message_unref(m);
  return text;
}
std::string pop_error(GstBus* bus) { return pop_message(bus, GST_MESSAGE_ERROR); }
std::string pop_warning(GstBus* bus) { return pop_message(bus, GST_MESSAGE_WARNING); }

}  // namespace

// Every buffer leaves, in order, timestamps/duration/flags unchanged, with both metas; each message
// equals its meta; the results file holds one valid line per frame.
TEST_F(Element, BuffersMetaMessagesAndResultsFile) {
  const std::string results = fixtures::temp_dir() + "/results.jsonl";
  GstHarness* h = harness("results-file=" + results + " localization=true");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  const int n = 6;
  for (int i = 0; i < n; ++i) {
    GstBuffer* in = frame(i % 2 ? defective(i) : good(i));
    GST_BUFFER_PTS(in) = 1000 + i * 33 * GST_MSECOND;
    GST_BUFFER_DURATION(in) = 33 * GST_MSECOND;
    GST_BUFFER_OFFSET(in) = i;
    if (i == 0) GST_BUFFER_FLAG_SET(in, GST_BUFFER_FLAG_DISCONT);
    if (i == 3) GST_BUFFER_FLAG_SET(in, GST_BUFFER_FLAG_DELTA_UNIT);
    ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(out), 1000 + i * 33 * GST_MSECOND);
    EXPECT_EQ(GST_BUFFER_DURATION(out), 33 * GST_MSECOND);
    EXPECT_EQ(GST_BUFFER_OFFSET(out), static_cast<guint64>(i));
    EXPECT_EQ(GST_BUFFER_FLAG_IS_SET(out, GST_BUFFER_FLAG_DISCONT), i == 0);
    EXPECT_EQ(GST_BUFFER_FLAG_IS_SET(out, GST_BUFFER_FLAG_DELTA_UNIT), i == 3);
    GstDifferNetMeta* m = meta(out);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->frame, static_cast<guint64>(i));
    EXPECT_FALSE(m->reused);
    EXPECT_EQ(m->transforms, 1u);
    EXPECT_EQ(strlen(m->model_id), 12u);
    EXPECT_EQ(m->region_width, kSize);
    EXPECT_EQ(m->heatmap_width, 32u);  // a quarter of the model's 128 px input
    ASSERT_NE(m->heatmap, nullptr);
    EXPECT_EQ(m->anomaly, m->score >= m->threshold);

    GstCustomMeta* cm = gst_buffer_get_custom_meta(out, GST_DIFFERNET_CUSTOM_META_NAME);
    ASSERT_NE(cm, nullptr);
    const GstStructure* cs = gst_custom_meta_get_structure(cm);
    double score = 0;
    guint64 number = 0;
    guint hw = 0;
    EXPECT_TRUE(gst_structure_get_double(cs, "score", &score));
    EXPECT_EQ(score, m->score);
    EXPECT_TRUE(gst_structure_get_uint64(cs, "frame", &number));
    EXPECT_EQ(number, m->frame);
    EXPECT_TRUE(gst_structure_get_uint(cs, "heatmap-width", &hw));
    EXPECT_EQ(hw, m->heatmap_width);
    EXPECT_STREQ(gst_structure_get_string(cs, "model-id"), m->model_id);

    GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);
    ASSERT_NE(msg, nullptr);
    const GstStructure* s = gst_message_get_structure(msg);
    EXPECT_TRUE(gst_structure_has_name(s, "differnet"));
    guint64 ts = 0, duration = 0, running = 0, frame_no = 0;
    double ms_score = 0, ms_threshold = 0, ms_ms = 0;
    gboolean anomaly = FALSE, reused = TRUE;
    EXPECT_TRUE(gst_structure_get_uint64(s, "timestamp", &ts));
    EXPECT_EQ(ts, GST_BUFFER_PTS(out));
    EXPECT_TRUE(gst_structure_get_uint64(s, "duration", &duration));
    EXPECT_EQ(duration, GST_BUFFER_DURATION(out));
    EXPECT_TRUE(gst_structure_get_uint64(s, "running-time", &running));
    EXPECT_TRUE(gst_structure_has_field(s, "stream-time"));
    EXPECT_TRUE(gst_structure_get_uint64(s, "frame", &frame_no));
    EXPECT_EQ(frame_no, m->frame);
    EXPECT_TRUE(gst_structure_get_double(s, "score", &ms_score));
    EXPECT_EQ(ms_score, m->score);
    EXPECT_TRUE(gst_structure_get_double(s, "threshold", &ms_threshold));
    EXPECT_EQ(ms_threshold, m->threshold);
    EXPECT_TRUE(gst_structure_get_boolean(s, "anomaly", &anomaly));
    EXPECT_EQ(anomaly, m->anomaly);
    EXPECT_TRUE(gst_structure_get_boolean(s, "reused", &reused));
    EXPECT_FALSE(reused);
    EXPECT_TRUE(gst_structure_get_double(s, "inference-ms", &ms_ms));
    EXPECT_EQ(ms_ms, m->inference_ms);
    EXPECT_STREQ(gst_structure_get_string(s, "model-id"), m->model_id);
    EXPECT_FALSE(gst_structure_has_field(s, "heatmap"));
    gst_message_unref(msg);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);  // closes the results file
  std::ifstream in(results);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["frame"], lines);
    EXPECT_EQ(j["pts_ns"], 1000 + lines * 33 * GST_MSECOND);
    for (const char* key : {"score", "threshold", "anomaly", "reused", "inference_ms", "model_id"})
      EXPECT_TRUE(j.contains(key)) << key;
    ++lines;
  }
  EXPECT_EQ(lines, n);
  gst_object_unref(bus);
}

// 10 spotted frames all score above 10 good ones; the heatmap is hotter inside the spot; the border
// colour follows the verdict.
TEST_F(Element, DetectsAndLocalizesPlantedDefects) {
  std::vector<double> good_scores, bad_scores;
  double inside_total = 0, outside_total = 0;
  {
    GstHarness* h = harness("overlay=none");
    for (int i = 0; i < 20; ++i) {
      const bool bad = i >= 10;
      GstBuffer* out = gst_harness_push_and_pull(h, frame(bad ? defective(i) : good(i)));
      GstDifferNetMeta* m = meta(out);
      ASSERT_NE(m, nullptr);
      (bad ? bad_scores : good_scores).push_back(m->score);
      if (bad) {
        const fixtures::Spot s = spot(i);
        double inside = 0, outside = 0;
        int n_in = 0, n_out = 0;
        const double scale = static_cast<double>(kSize) / m->heatmap_width;
        for (guint y = 0; y < m->heatmap_height; ++y)
          for (guint x = 0; x < m->heatmap_width; ++x) {
            const double v = m->heatmap[y * m->heatmap_width + x];
            if (std::hypot((x + 0.5) * scale - s.x, (y + 0.5) * scale - s.y) <= s.radius) inside += v, ++n_in;
            else outside += v, ++n_out;
          }
        inside_total += inside / n_in;
        outside_total += outside / n_out;
        EXPECT_GT(inside / n_in, outside / n_out) << "frame " << i;
      }
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
  const double max_good = *std::max_element(good_scores.begin(), good_scores.end());
  const double min_bad = *std::min_element(bad_scores.begin(), bad_scores.end());
  std::printf("good scores max %.4f, defective min %.4f; heatmap energy inside/outside %.2f\n", max_good, min_bad,
              inside_total / outside_total);
  EXPECT_GT(min_bad, max_good);

  // With the threshold between the two groups: red border on defects, green on good frames.
  const double threshold = (max_good + min_bad) / 2;
  GstHarness* h = harness("overlay=score threshold=" + std::to_string(threshold));
  for (int i = 8; i < 12; ++i) {
    const bool bad = i >= 10;
    GstBuffer* out = gst_harness_push_and_pull(h, frame(bad ? defective(i) : good(i)));
    EXPECT_EQ(static_cast<bool>(meta(out)->anomaly), bad);
    auto px = bytes(out);
    const uint8_t* corner = &px[(kSize * 1 + 1) * 3];  // inside the border, top-left
    if (bad) {
      EXPECT_TRUE(corner[0] == 255 && corner[1] == 0 && corner[2] == 0) << "frame " << i;
    } else {
      EXPECT_TRUE(corner[0] == 0 && corner[1] == 200 && corner[2] == 0) << "frame " << i;
    }
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

// overlay=none leaves every pixel bit-identical; overlay=all changes them.
TEST_F(Element, OverlayNoneLeavesPixels) {
  for (const char* mode : {"none", "all"}) {
    GstHarness* h = harness(std::string("overlay=") + mode);
    GstBuffer* in = frame(defective(1));
    const auto before = bytes(in);
    GstBuffer* out = gst_harness_push_and_pull(h, in);
    if (std::string(mode) == "none") {
      EXPECT_EQ(bytes(out), before);
    } else {
      EXPECT_NE(bytes(out), before);
    }
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}

// No model, a missing file and a corrupt file fail READY->PAUSED with an error naming the problem.
TEST_F(Element, ModelErrors) {
  const std::string dir = fixtures::temp_dir();
  std::ofstream(dir + "/corrupt.model") << "not a model";
  struct Case { std::string model, needle; };
  for (const Case& c : {Case{"", "No model file set"}, Case{dir + "/missing.model", "cannot be opened"},
                        Case{dir + "/corrupt.model", "header length"}}) {
    GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
    ASSERT_NE(e, nullptr);
    if (!c.model.empty()) g_object_set(e, "model", c.model.c_str(), nullptr);
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    const std::string error = pop_error(bus);
    EXPECT_NE(error.find(c.needle), std::string::npos) << error;
    if (!c.model.empty()) {
      EXPECT_NE(error.find(c.model), std::string::npos) << error;
    }
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
}

// Unsupported formats are refused at negotiation; so is a roi outside the frame.
TEST_F(Element, NegotiationRefusals) {
  GstHarness* h = harness("", "video/x-raw,format=I420,width=96,height=96,framerate=30/1");
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, 96 * 96 * 3 / 2, nullptr);
  EXPECT_EQ(gst_harness_push(h, buf), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown(h);

  h = harness("roi=50,50,60,60");
  EXPECT_NE(gst_harness_push(h, frame(good(0))), GST_FLOW_OK);
  gst_harness_teardown(h);
}

// Nonsense property values are refused and the old value kept.
TEST_F(Element, NonsensePropertiesRefused) {
  GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
  auto str = [&](const char* name) {
    gchar* v = nullptr;
    g_object_get(e, name, &v, nullptr);
    std::string out = v ? v : "";
    g_free(v);
    return out;
  };
  g_object_set(e, "roi", "1,2,3,4", nullptr);
  g_object_set(e, "roi", "a,b", nullptr);
  EXPECT_EQ(str("roi"), "1,2,3,4");
  g_object_set(e, "roi", "0,0,-5,5", nullptr);
  EXPECT_EQ(str("roi"), "1,2,3,4");
  g_object_set(e, "device", "gpu", nullptr);
  EXPECT_EQ(str("device"), "auto");
  gint interval = 0;
  g_object_set(e, "inference-interval", -3, nullptr);  // GLib refuses out-of-range values
  g_object_get(e, "inference-interval", &interval, nullptr);
  EXPECT_EQ(interval, 1);
  gdouble alpha = 0;
  g_object_set(e, "heatmap-alpha", 7.0, nullptr);
  g_object_get(e, "heatmap-alpha", &alpha, nullptr);
  EXPECT_EQ(alpha, 0.5);
  g_object_set(e, "precision", "fp8", nullptr);
  EXPECT_EQ(str("precision"), "auto");  // the default, kept
  g_object_set(e, "precision", "bf16", nullptr);
  EXPECT_EQ(str("precision"), "bf16");
  gint in_flight = 0;
  g_object_set(e, "frames-in-flight", 0, nullptr);
  g_object_get(e, "frames-in-flight", &in_flight, nullptr);
  EXPECT_EQ(in_flight, 1);
  gst_object_unref(e);
}

// precision=fp16 on the CPU is an error at start that says why (LibTorch has no CPU fp16 convolutions).
TEST_F(Element, Fp16OnCpuIsAnError) {
  GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
  g_object_set(e, "model", model_.c_str(), "device", "cpu", "precision", "fp16", nullptr);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  const std::string error = pop_error(bus);
  EXPECT_NE(error.find("fp16 needs a CUDA device"), std::string::npos) << error;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(e);
}

// device=cuda on a machine without CUDA is an error at start, never a silent CPU fallback.
TEST_F(Element, CudaWithoutCudaIsAnError) {
  GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
  g_object_set(e, "model", model_.c_str(), "device", "cuda", nullptr);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  const GstStateChangeReturn r = gst_element_set_state(e, GST_STATE_PAUSED);
  gchar* active = nullptr;
  g_object_get(e, "active-device", &active, nullptr);
  if (r == GST_STATE_CHANGE_FAILURE) {
    const std::string error = pop_error(bus);
    EXPECT_NE(error.find("CUDA"), std::string::npos) << error;
  } else {
    EXPECT_STREQ(active, "cuda:0");  // a CUDA build on a GPU machine
  }
  g_free(active);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(e);
}

// A new frame size mid-stream renegotiates without a restart: the counters keep counting, and the
// first frame of the new size is scored afresh even when inference-interval would reuse a result.
TEST_F(Element, RenegotiatesToANewSize) {
  GstHarness* h = harness("inference-interval=5");
  for (int i = 0; i < 2; ++i) gst_buffer_unref(gst_harness_push_and_pull(h, frame(good(i))));
  gst_harness_set_src_caps_str(h, "video/x-raw,format=BGR,width=120,height=72,framerate=30/1");
  Image wide = fixtures::make_texture(120, 72, 5);
  GstBuffer* out = gst_harness_push_and_pull(h, frame(wide, GST_VIDEO_FORMAT_BGR));
  ASSERT_NE(meta(out), nullptr);
  EXPECT_EQ(meta(out)->region_width, 120);
  EXPECT_EQ(meta(out)->frame, 2u);
  EXPECT_FALSE(meta(out)->reused);
  gst_buffer_unref(out);
  guint64 scored = 0, reused = 0;
  g_object_get(filter(h), "frames-scored", &scored, "frames-reused", &reused, nullptr);
  EXPECT_EQ(scored, 2u);  // frame 0, and frame 2 (new size); frame 1 reused frame 0's result
  EXPECT_EQ(reused, 1u);
  gst_harness_teardown(h);
}

// READY <-> PLAYING cycles: each start reloads, counts from zero, and works.
TEST_F(Element, StateCycles) {
  GstHarness* h = harness();
  for (int cycle = 0; cycle < 3; ++cycle) {
    GstBuffer* out = gst_harness_push_and_pull(h, frame(good(cycle)));
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(meta(out)->frame, 0u) << "cycle " << cycle;
    gst_buffer_unref(out);
    gchar* active = nullptr;
    g_object_get(filter(h), "active-device", &active, nullptr);
    EXPECT_EQ(std::string(active), resolve_device(fixtures::test_device()));
    g_free(active);
    // precision=auto (the default): the fixture model holds only the fp32/fp32 threshold, so fp32.
    gchar *precision = nullptr, *flow_precision = nullptr;
    g_object_get(filter(h), "active-precision", &precision, "active-flow-precision", &flow_precision, nullptr);
    EXPECT_STREQ(precision, "fp32");
    EXPECT_STREQ(flow_precision, "fp32");
    g_free(precision);
    g_free(flow_precision);
    ASSERT_EQ(gst_element_set_state(h->element, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    g_object_get(filter(h), "active-device", &active, "active-precision", &precision, nullptr);
    EXPECT_STREQ(active, "");
    EXPECT_STREQ(precision, "");
    g_free(active);
    g_free(precision);
    ASSERT_NE(gst_element_set_state(h->element, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    gst_harness_set_src_caps_str(h, kCaps);
  }
  gst_harness_teardown(h);
}

// inference-interval=3 scores frames 0, 3, 6; the others carry the last result, marked reused.
TEST_F(Element, InferenceIntervalReuses) {
  GstHarness* h = harness("inference-interval=3");
  double last_scored = -1;
  for (int i = 0; i < 7; ++i) {
    GstBuffer* out = gst_harness_push_and_pull(h, frame(i % 2 ? defective(i) : good(i)));
    GstDifferNetMeta* m = meta(out);
    EXPECT_EQ(static_cast<bool>(m->reused), i % 3 != 0) << "frame " << i;
    if (m->reused) {
      EXPECT_EQ(m->score, last_scored);
    } else {
      last_scored = m->score;
    }
    gst_buffer_unref(out);
  }
  // After a flush (a seek) the next frame is scored afresh.
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  gst_harness_push_event(h, gst_event_new_segment(&segment));
  GstBuffer* after = gst_harness_push_and_pull(h, frame(good(1)));
  EXPECT_FALSE(meta(after)->reused);
  gst_buffer_unref(after);
  guint64 scored = 0, reused = 0;
  double mean_ms = 0;
  g_object_get(filter(h), "frames-scored", &scored, "frames-reused", &reused, "mean-inference-ms", &mean_ms, nullptr);
  EXPECT_EQ(scored, 4u);
  EXPECT_EQ(reused, 4u);
  EXPECT_GT(mean_ms, 0.0);
  gst_harness_teardown(h);
}

// A roi scores exactly what the cropped frame scores alone; the meta states the region.
TEST_F(Element, RegionOfInterest) {
  Image big = fixtures::make_texture(kSize, kSize, 9);
  Image crop;
  crop.width = 40, crop.height = 32;
  for (int y = 20; y < 52; ++y)
    crop.pixels.insert(crop.pixels.end(), big.pixels.begin() + (y * kSize + 30) * 3, big.pixels.begin() + (y * kSize + 70) * 3);
  GstHarness* h = harness("roi=30,20,40,32 overlay=none");
  GstBuffer* a = gst_harness_push_and_pull(h, frame(big));
  gst_harness_teardown(h);
  h = harness("overlay=none", "video/x-raw,format=RGB,width=40,height=32,framerate=30/1");
  GstBuffer* b = gst_harness_push_and_pull(h, frame(crop));
  gst_harness_teardown(h);
  EXPECT_NEAR(meta(a)->score, meta(b)->score, 1e-6 * meta(b)->score);  // equal on the CPU; float noise on CUDA
  EXPECT_EQ(meta(a)->region_x, 30);
  EXPECT_EQ(meta(a)->region_y, 20);
  EXPECT_EQ(meta(a)->region_width, 40);
  EXPECT_EQ(meta(a)->region_height, 32);
  gst_buffer_unref(a);
  gst_buffer_unref(b);
}

// snapshot-dir receives exactly the frames judged anomalous; message-mode=on-change posts only
// when the verdict changes.
TEST_F(Element, SnapshotsAndOnChangeMessages) {
  const std::string dir = fixtures::temp_dir() + "/snaps";
  // A threshold between the groups (from the calibrated model: defects score far above it).
  GstHarness* probe = harness("overlay=none");
  GstBuffer* g = gst_harness_push_and_pull(probe, frame(good(0)));
  GstBuffer* d = gst_harness_push_and_pull(probe, frame(defective(0)));
  const double threshold = (meta(g)->score + meta(d)->score) / 2;
  gst_buffer_unref(g);
  gst_buffer_unref(d);
  gst_harness_teardown(probe);

  GstHarness* h = harness("snapshot-dir=" + dir + " message-mode=on-change threshold=" + std::to_string(threshold));
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  const bool pattern[] = {false, false, true, true, false, true, false, false};
  std::set<std::string> expected;
  int changes = 0;
  for (int i = 0; i < 8; ++i) {
    GstBuffer* out = gst_harness_push_and_pull(h, frame(pattern[i] ? defective(i) : good(i)));
    if (meta(out)->anomaly) {
      char name[32];
      std::snprintf(name, sizeof name, "frame-%08d.png", i);
      expected.insert(name);
    }
    if (i == 0 || pattern[i] != pattern[i - 1]) ++changes;
    EXPECT_EQ(static_cast<bool>(meta(out)->anomaly), pattern[i]) << "frame " << i;
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
  std::set<std::string> written;
  for (const auto& e : fs::directory_iterator(dir)) written.insert(e.path().filename().string());
  EXPECT_EQ(written, expected);
  int messages = 0;
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    ++messages;
    gst_message_unref(m);
  }
  EXPECT_EQ(messages, changes);
  gst_object_unref(bus);
}

// frames-in-flight=3: at most 2 frames are held after each push; all leave, in order, before EOS,
// with the scores of one-at-a-time processing; the latency query adds 2 frame durations; a flush
// drops the held frames and the next frame is scored afresh.
TEST_F(Element, FramesInFlight) {
  auto image = [](int i) { return i % 2 ? defective(i) : good(i); };
  std::vector<double> reference;
  {
    GstHarness* h = harness();
    for (int i = 0; i < 6; ++i) {
      GstBuffer* out = gst_harness_push_and_pull(h, frame(image(i)));
      reference.push_back(meta(out)->score);
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
  GstHarness* h = harness("frames-in-flight=3");
  gst_harness_set_upstream_latency(h, 0);
  EXPECT_EQ(gst_harness_query_latency(h), 2 * GST_SECOND / 30);
  for (int i = 0; i < 6; ++i) {
    GstBuffer* in = frame(image(i));
    GST_BUFFER_PTS(in) = i * GST_SECOND / 30;
    ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
    EXPECT_LE(i + 1 - static_cast<int>(gst_harness_buffers_received(h)), 2) << "after frame " << i;
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), 6u);
  for (int i = 0; i < 6; ++i) {
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_NE(out, nullptr);
    ASSERT_NE(meta(out), nullptr);
    EXPECT_EQ(meta(out)->frame, static_cast<guint64>(i));
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 30);
    EXPECT_NEAR(meta(out)->score, reference[i], 1e-6 * reference[i]) << "frame " << i;
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);

  h = harness("frames-in-flight=3 inference-interval=100");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(gst_harness_push(h, frame(image(i))), GST_FLOW_OK);
  const guint before_flush = gst_harness_buffers_received(h);
  gst_harness_push_event(h, gst_event_new_flush_start());
  gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  gst_harness_push_event(h, gst_event_new_segment(&segment));
  ASSERT_EQ(gst_harness_push(h, frame(image(3))), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_received(h), before_flush + 1);  // the held frames were dropped
  GstBuffer* out = nullptr;
  for (guint i = 0; i <= before_flush; ++i) {
    if (out) gst_buffer_unref(out);
    out = gst_harness_pull(h);
  }
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(meta(out)->reused);  // scored afresh although inference-interval=100
  EXPECT_NEAR(meta(out)->score, reference[3], 1e-6 * reference[3]);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}


// Issue 14, item 5: a typo in roi, device, precision or threshold is an error at start naming the
// property, never a silent run on the whole frame, auto, fp32 or the model's threshold.
TEST_F(Element, InvalidSettingsStopTheStart) {
  struct Case { const char* property; const char* value; const char* needle; };
  for (const Case& c : {Case{"roi", "10,10,abc", "roi"}, Case{"roi", "99999999999,0,10,10", "out of range"},
                        Case{"device", "gpu", "device 'gpu'"}, Case{"precision", "fp64", "precision"},
                        Case{"tiles", "8by1", "COLSxROWS"}}) {
    GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
    g_object_set(e, "model", model_.c_str(), "device", fixtures::test_device().c_str(), nullptr);
    g_object_set(e, c.property, c.value, nullptr);
    GstBus* bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE) << c.property << "=" << c.value;
    const std::string error = pop_error(bus);
    EXPECT_NE(error.find("Invalid property value"), std::string::npos) << error;
    EXPECT_NE(error.find(c.needle), std::string::npos) << error;
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
  }
  GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
  g_object_set(e, "threshold", -0.5, nullptr);
  g_object_set(e, "model", model_.c_str(), nullptr);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  EXPECT_NE(pop_error(bus).find("threshold"), std::string::npos);
  // Set right again, it starts.
  g_object_set(e, "threshold", -1.0, nullptr);
  EXPECT_NE(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(e);
}

// Issue 14, item 2: a huge roi set while PLAYING neither crashes nor changes what is scored: a
// warning on the bus, and the frames go on with the old region.
TEST_F(Element, HugeRoiWhilePlaying) {
  GstHarness* h = harness("roi=10,10,50,50 overlay=none");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  GstBuffer* a = gst_harness_push_and_pull(h, frame(good(1)));
  ASSERT_NE(a, nullptr);
  for (const char* roi : {"2147483640,0,100,100", "0,2147483640,100,100", "0,0,2147483647,2147483647"}) {
    g_object_set(filter(h), "roi", roi, nullptr);
    const std::string warning = pop_warning(bus);
    EXPECT_NE(warning.find("does not lie inside"), std::string::npos) << warning;
    GstBuffer* b = gst_harness_push_and_pull(h, frame(good(1)));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(meta(b)->region_x, 10);
    EXPECT_EQ(meta(b)->region_width, 50);
    EXPECT_EQ(meta(b)->score, meta(a)->score);
    gst_buffer_unref(b);
  }
  gst_buffer_unref(a);
  gst_harness_teardown(h);
  gst_object_unref(bus);

  // Set before the stream starts, it is refused at negotiation, with no crash.
  h = harness("roi=2147483640,0,100,100");
  EXPECT_NE(gst_harness_push(h, frame(good(0))), GST_FLOW_OK);
  gst_harness_teardown(h);
}

// Issue 14, item 4: a results file on a full disk is a warning on the bus (once), and every frame
// still leaves with its meta.
TEST_F(Element, ResultsFileOnAFullDisk) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  GstHarness* h = harness("results-file=/dev/full overlay=none");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  for (int i = 0; i < 3; ++i) {
    GstBuffer* b = gst_harness_push_and_pull(h, frame(good(i)));
    ASSERT_NE(b, nullptr);
    EXPECT_NE(meta(b), nullptr);
    gst_buffer_unref(b);
  }
  const std::string warning = pop_warning(bus);
  EXPECT_NE(warning.find("Could not write to the results file"), std::string::npos) << warning;
  EXPECT_EQ(pop_warning(bus), "");  // once, not per frame
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// Issue 14: a snapshot folder that becomes unwritable while running (replaced by a file) is one
// warning naming the file and the reason, every frame still leaves with its meta; a folder that
// is removed is made again; when writing works again an info message says how many were lost.
TEST_F(Element, SnapshotFolderUnwritableWhileRunning) {
  const std::string dir = fixtures::temp_dir() + "/snaps";
  GstHarness* h = harness("snapshot-dir=" + dir + " threshold=0 overlay=none post-messages=false");  // every frame anomalous
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  auto push = [&](int i) {
    GstBuffer* b = gst_harness_push_and_pull(h, frame(good(i)));
    ASSERT_NE(b, nullptr);
    ASSERT_NE(meta(b), nullptr);
    EXPECT_TRUE(meta(b)->anomaly);
    EXPECT_EQ(meta(b)->frame, static_cast<guint64>(i));
    gst_buffer_unref(b);
  };
  push(0);
  EXPECT_TRUE(fs::exists(dir + "/frame-00000000.png"));
  // The folder removed: made again, nothing lost, nothing said.
  fs::remove_all(dir);
  push(1);
  EXPECT_TRUE(fs::exists(dir + "/frame-00000001.png"));
  EXPECT_EQ(pop_warning(bus), "");
  // The folder replaced by a file (unwritable even for root): one warning for three frames.
  fs::remove_all(dir);
  std::ofstream(dir) << "not a folder";
  for (int i = 2; i < 5; ++i) push(i);
  const std::string warning = pop_warning(bus);
  EXPECT_NE(warning.find("Could not write snapshot '" + dir + "/frame-00000002.png'"), std::string::npos) << warning;
  EXPECT_NE(warning.find("directory"), std::string::npos) << warning;  // "Not a directory"
  EXPECT_EQ(pop_warning(bus), "");
  // Writable again: the snapshot is written and an info message counts the three lost.
  fs::remove(dir);
  push(5);
  EXPECT_TRUE(fs::exists(dir + "/frame-00000005.png"));
  GstMessage* info = gst_bus_pop_filtered(bus, GST_MESSAGE_INFO);
  ASSERT_NE(info, nullptr);
  GError* err = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_info(info, &err, &debug);
  EXPECT_NE(std::string(err->message).find("written again"), std::string::npos) << err->message;
  EXPECT_NE(std::string(debug).find("3 snapshot(s)"), std::string::npos) << debug;
  g_error_free(err);
  g_free(debug);
  gst_message_unref(info);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// Issue 11: when-busy=pass never makes a frame wait for a busy scorer. With a slow scorer (T=32 and
// localization), only the first frame waits for its own score; the others leave at once, in order,
// with their timestamps and the last result (reused); frames-passed counts those that were due for
// scoring; a result finished in the background is carried by the frames after it. Frame times are
// compared with the first frame's (a full scoring), not with a clock figure.
TEST_F(Element, WhenBusyPassNeverWaits) {
  GstHarness* h = harness("when-busy=pass transforms=32 overlay=none post-messages=false");
  gst_harness_set_upstream_latency(h, 0);
  EXPECT_EQ(gst_harness_query_latency(h), 0u);  // no frame is held
  auto push = [&](int i, double& seconds) {
    GstBuffer* in = frame(good(i));
    GST_BUFFER_PTS(in) = i * GST_SECOND / 30;
    const gint64 t0 = g_get_monotonic_time();
    GstBuffer* out = gst_harness_push_and_pull(h, in);
    seconds = (g_get_monotonic_time() - t0) / 1e6;
    return out;
  };
  double first = 0, slowest = 0, t = 0;
  GstBuffer* out = push(0, first);
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(meta(out)->reused);  // the first frame carries its own score
  const double first_score = meta(out)->score;
  gst_buffer_unref(out);
  for (int i = 1; i < 13; ++i) {
    out = push(i, t);
    slowest = std::max(slowest, t);
    ASSERT_NE(out, nullptr);
    ASSERT_NE(meta(out), nullptr);
    EXPECT_EQ(meta(out)->frame, static_cast<guint64>(i));
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 30);
    EXPECT_TRUE(meta(out)->reused) << "frame " << i;
    gst_buffer_unref(out);
  }
  EXPECT_LT(slowest, first / 3) << "a frame waited for the scorer (first frame " << first << " s)";
  guint64 passed = 0;
  g_object_get(filter(h), "frames-passed", &passed, nullptr);
  EXPECT_GT(passed, 0u);
  // Let the background scoring of frame 1 finish: the next frame carries its result.
  g_usleep(static_cast<gulong>(3 * first * 1e6));
  out = push(13, t);
  EXPECT_TRUE(meta(out)->reused);
  EXPECT_NE(meta(out)->score, first_score);  // frame 1's result, not frame 0's
  gst_buffer_unref(out);
  guint64 scored = 0, reused = 0;
  g_object_get(filter(h), "frames-scored", &scored, "frames-reused", &reused, "frames-passed", &passed, nullptr);
  EXPECT_EQ(scored, 2u);
  EXPECT_EQ(reused, 13u);
  EXPECT_EQ(passed, 11u);  // frames 2..12 were due while frame 1 was scored
  gst_harness_teardown(h);
}

// Issue 11: localization=on-anomaly computes the heatmap only for anomalous frames, the same
// heatmap localization=on gives; "true" and "false" still mean on and off.
TEST_F(Element, LocalizationOnAnomaly) {
  GstHarness* probe = harness("overlay=none localization=true");
  GstBuffer* g = gst_harness_push_and_pull(probe, frame(good(0)));
  GstBuffer* d = gst_harness_push_and_pull(probe, frame(defective(0)));
  ASSERT_GT(meta(g)->heatmap_width, 0u);
  const double threshold = (meta(g)->score + meta(d)->score) / 2;
  gst_harness_teardown(probe);

  GstHarness* h = harness("overlay=none localization=on-anomaly threshold=" + std::to_string(threshold));
  GstBuffer* g2 = gst_harness_push_and_pull(h, frame(good(0)));
  GstBuffer* d2 = gst_harness_push_and_pull(h, frame(defective(0)));
  EXPECT_FALSE(meta(g2)->anomaly);
  EXPECT_EQ(meta(g2)->heatmap_width, 0u);  // good: no gradient pass
  ASSERT_TRUE(meta(d2)->anomaly);
  ASSERT_EQ(meta(d2)->heatmap_width, meta(d)->heatmap_width);
  const size_t n = static_cast<size_t>(meta(d)->heatmap_width) * meta(d)->heatmap_height;
  const float peak = *std::max_element(meta(d)->heatmap, meta(d)->heatmap + n);
  for (size_t i = 0; i < n; i += 97)
    EXPECT_NEAR(meta(d2)->heatmap[i], meta(d)->heatmap[i], kMapTol * peak) << i;
  EXPECT_NEAR(meta(d2)->score, meta(d)->score, 1e-6 * meta(d)->score);
  for (GstBuffer* b : {g, d, g2, d2}) gst_buffer_unref(b);
  gint mode = -1;
  g_object_get(filter(h), "localization", &mode, nullptr);
  EXPECT_EQ(mode, 2);
  gst_harness_teardown(h);

  h = harness("overlay=none localization=false");
  GstBuffer* off = gst_harness_push_and_pull(h, frame(defective(0)));
  EXPECT_EQ(meta(off)->heatmap_width, 0u);
  gst_buffer_unref(off);
  gst_harness_teardown(h);
}

// Issue 11: setting `model` while frames flow switches models between two frames: every frame has
// its meta, the model_id changes exactly once, a model-changed message names both; a model that
// cannot be loaded is a warning naming the file, and the old model keeps scoring every frame.
TEST_F(Element, LiveModelSwap) {
  const std::string other = fixtures::temp_dir() + "/other.safetensors";
  fixtures::train_texture_model(other, kSize, 10, 20);  // another model: another model_id
  GstHarness* h = harness("overlay=none post-messages=false frames-in-flight=2");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  std::vector<std::string> ids;
  auto push = [&](int i) {
    GstBuffer* in = frame(good(i));
    GST_BUFFER_PTS(in) = i * GST_SECOND / 30;
    ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
    while (GstBuffer* out = gst_harness_try_pull(h)) {
      ASSERT_NE(meta(out), nullptr);
      EXPECT_FALSE(meta(out)->reused);
      EXPECT_EQ(GST_BUFFER_PTS(out), ids.size() * GST_SECOND / 30);
      ids.push_back(meta(out)->model_id);
      gst_buffer_unref(out);
    }
  };
  int i = 0;
  for (; i < 3; ++i) push(i);
  g_object_set(filter(h), "model", other.c_str(), nullptr);
  for (int wait = 0; wait < 600; ++wait) {  // frames keep flowing while it loads
    push(i++);
    GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);
    if (m) {
      const GstStructure* st = gst_message_get_structure(m);
      EXPECT_STREQ(gst_structure_get_name(st), "model-changed");
      EXPECT_EQ(std::string(gst_structure_get_string(st, "model")), other);
      EXPECT_EQ(std::string(gst_structure_get_string(st, "old-model")), model_);
      gst_message_unref(m);
      break;
    }
    g_usleep(10000);
  }
  for (int k = 0; k < 3; ++k, ++i) push(i);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  while (GstBuffer* out = gst_harness_try_pull(h)) {
    ids.push_back(meta(out)->model_id);
    gst_buffer_unref(out);
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(i)) << "a frame was lost";
  int changes = 0;
  for (size_t k = 1; k < ids.size(); ++k) changes += ids[k] != ids[k - 1];
  EXPECT_EQ(changes, 1);
  EXPECT_NE(ids.front(), ids.back());
  gst_harness_teardown(h);

  // A model that cannot be loaded: a warning naming it, the old model keeps running.
  h = harness("overlay=none post-messages=false");
  gst_element_set_bus(h->element, bus);
  GstBuffer* before = gst_harness_push_and_pull(h, frame(good(0)));
  const std::string id = meta(before)->model_id;
  gst_buffer_unref(before);
  const std::string missing = fixtures::temp_dir() + "/missing.model";
  g_object_set(filter(h), "model", missing.c_str(), nullptr);
  std::string warning;
  for (int wait = 0; wait < 500 && warning.empty(); ++wait) {
    GstBuffer* out = gst_harness_push_and_pull(h, frame(good(1)));
    ASSERT_NE(meta(out), nullptr);
    EXPECT_EQ(std::string(meta(out)->model_id), id);
    gst_buffer_unref(out);
    warning = pop_warning(bus);
    if (warning.empty()) g_usleep(10000);
  }
  EXPECT_NE(warning.find("Could not switch to model '" + missing + "'"), std::string::npos) << warning;
  EXPECT_NE(warning.find("keeps running"), std::string::npos) << warning;
  gchar* now = nullptr;
  g_object_get(filter(h), "model", &now, nullptr);
  EXPECT_EQ(std::string(now), model_);  // the property shows the model that runs
  g_free(now);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// Issue 11: elements naming the same model file, device, precision and threads share one loaded
// model (model-users); scoring from two streaming threads at once gives the scores each gets
// alone; another thread count loads its own; the last element to stop frees it.
TEST_F(Element, SharedModel) {
  std::vector<double> reference;
  {
    GstHarness* h = harness("overlay=none post-messages=false");
    for (int i = 0; i < 4; ++i) {
      GstBuffer* out = gst_harness_push_and_pull(h, frame(i % 2 ? defective(i) : good(i)));
      reference.push_back(meta(out)->score);
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
  GstHarness* a = harness("overlay=none post-messages=false");
  GstHarness* b = harness("overlay=none post-messages=false");
  GstHarness* c = harness("overlay=none post-messages=false threads=1");
  GstHarness* own = harness("overlay=none post-messages=false share-model=false");
  auto users = [&](GstHarness* h) {
    gint n = -1;
    g_object_get(filter(h), "model-users", &n, nullptr);
    return n;
  };
  EXPECT_EQ(users(a), 2);
  EXPECT_EQ(users(b), 2);
  EXPECT_EQ(users(c), 1);
  EXPECT_EQ(users(own), 1);  // a copy of its own
  gst_harness_teardown(own);
  std::vector<double> scores_a, scores_b;
  auto run = [&](GstHarness* h, std::vector<double>& scores) {
    for (int round = 0; round < 3; ++round)
      for (int i = 0; i < 4; ++i) {
        GstBuffer* out = gst_harness_push_and_pull(h, frame(i % 2 ? defective(i) : good(i)));
        scores.push_back(meta(out)->score);
        gst_buffer_unref(out);
      }
  };
  std::thread ta(run, a, std::ref(scores_a)), tb(run, b, std::ref(scores_b));
  ta.join();
  tb.join();
  ASSERT_EQ(scores_a.size(), 12u);
  ASSERT_EQ(scores_b.size(), 12u);
  // Float noise only: c's threads=1 changed LibTorch's process-wide thread count, and with it the
  // order of float sums.
  for (size_t k = 0; k < 12; ++k) {
    EXPECT_NEAR(scores_a[k], reference[k % 4], kScoreTol * reference[k % 4]) << k;
    EXPECT_NEAR(scores_b[k], reference[k % 4], kScoreTol * reference[k % 4]) << k;
  }
  gst_harness_teardown(c);
  gst_harness_teardown(b);
  EXPECT_EQ(users(a), 1);
  gst_harness_teardown(a);
}

// Cross-stream batching: two elements sharing a model with batch-size=2 and a long
// timeout score each pair of frames (one from each stream) in one pass, with localization; every
// frame comes back to its own element, in order, with its own timestamp and the score and heatmap
// it gets unbatched. A lone element with a 1 ms timeout reports it in the latency query, scores
// alone and does not stall.
TEST_F(Element, CrossStreamBatching) {
  constexpr int kFrames = 5;
  auto image = [&](int stream, int i) { return stream == 0 ? (i % 2 ? defective(i) : good(i)) : good(40 + i); };
  std::vector<double> reference[2];
  std::vector<float> reference_peak[2];
  {
    GstHarness* h = harness("overlay=none post-messages=false");
    for (int stream = 0; stream < 2; ++stream)
      for (int i = 0; i < kFrames; ++i) {
        GstBuffer* out = gst_harness_push_and_pull(h, frame(image(stream, i)));
        reference[stream].push_back(meta(out)->score);
        GstDifferNetMeta* m = meta(out);
        ASSERT_GT(m->heatmap_width, 0u);
        reference_peak[stream].push_back(*std::max_element(m->heatmap, m->heatmap + m->heatmap_width * m->heatmap_height));
        gst_buffer_unref(out);
      }
    gst_harness_teardown(h);
  }
  ASSERT_NE(reference[0][0], reference[1][0]);
  const std::string props = "overlay=none post-messages=false batch-size=2 batch-timeout=10000000";
  GstHarness* hs[2] = {harness(props), harness(props)};
  std::vector<GstBuffer*> outs[2];
  auto run = [&](int stream) {
    for (int i = 0; i < kFrames; ++i) {
      GstBuffer* in = frame(image(stream, i));
      GST_BUFFER_PTS(in) = i * GST_SECOND / 30;
      GST_BUFFER_DURATION(in) = GST_SECOND / 30;
      outs[stream].push_back(gst_harness_push_and_pull(hs[stream], in));
    }
  };
  std::thread t0(run, 0), t1(run, 1);
  t0.join();
  t1.join();
  for (int stream = 0; stream < 2; ++stream) {
    ASSERT_EQ(outs[stream].size(), static_cast<size_t>(kFrames));
    for (int i = 0; i < kFrames; ++i) {
      SCOPED_TRACE("stream " + std::to_string(stream) + " frame " + std::to_string(i));
      GstBuffer* out = outs[stream][i];
      EXPECT_EQ(GST_BUFFER_PTS(out), static_cast<GstClockTime>(i * GST_SECOND / 30));
      GstDifferNetMeta* m = meta(out);
      ASSERT_NE(m, nullptr);
      EXPECT_NEAR(m->score, reference[stream][i], kScoreTol * reference[stream][i]);
      ASSERT_GT(m->heatmap_width, 0u);
      const float peak = *std::max_element(m->heatmap, m->heatmap + m->heatmap_width * m->heatmap_height);
      EXPECT_NEAR(peak, reference_peak[stream][i], kMapTol * reference_peak[stream][i]);
      gst_buffer_unref(out);
    }
    gdouble mean_batch = 0;
    g_object_get(filter(hs[stream]), "mean-batch-frames", &mean_batch, nullptr);
    EXPECT_DOUBLE_EQ(mean_batch, 2.0) << "every frame shared its pass with the other stream's";
  }
  gst_harness_teardown(hs[1]);
  gst_harness_teardown(hs[0]);

  GstHarness* lone = harness("overlay=none post-messages=false batch-size=4 batch-timeout=1000");
  gst_harness_set_upstream_latency(lone, 0);
  EXPECT_EQ(gst_harness_query_latency(lone), 1000 * GST_USECOND);  // a frame may wait that long for its batch
  for (int i = 0; i < 3; ++i) {
    GstBuffer* out = gst_harness_push_and_pull(lone, frame(image(0, i)));
    EXPECT_NEAR(meta(out)->score, reference[0][i], kScoreTol * reference[0][i]);
    gst_buffer_unref(out);
  }
  gdouble mean_batch = 0;
  g_object_get(filter(lone), "mean-batch-frames", &mean_batch, nullptr);
  EXPECT_DOUBLE_EQ(mean_batch, 1.0);
  gst_harness_teardown(lone);
}

// Batching the frames one element holds: with frames-in-flight=4 and batch-size=4, every four frames
// held are scored in one pass (no frame waits for the timeout: the fourth fills the batch), and they
// leave in order with the scores they get one at a time.
TEST_F(Element, BatchesTheFramesInFlight) {
  constexpr int kFrames = 8;
  auto image = [&](int i) { return i % 3 ? good(60 + i) : defective(i); };
  std::vector<double> reference;
  {
    GstHarness* h = harness("overlay=none post-messages=false localization=off");
    for (int i = 0; i < kFrames; ++i) {
      GstBuffer* out = gst_harness_push_and_pull(h, frame(image(i)));
      reference.push_back(meta(out)->score);
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
  GstHarness* h = harness("overlay=none post-messages=false localization=off frames-in-flight=4 batch-size=4 "
                          "batch-timeout=10000000");
  for (int i = 0; i < kFrames; ++i) {
    GstBuffer* in = frame(image(i));
    GST_BUFFER_PTS(in) = i * GST_SECOND / 30;
    ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  for (int i = 0; i < kFrames; ++i) {
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_NE(out, nullptr) << "frame " << i;
    EXPECT_EQ(GST_BUFFER_PTS(out), static_cast<GstClockTime>(i * GST_SECOND / 30));
    EXPECT_NEAR(meta(out)->score, reference[i], kScoreTol * reference[i]) << "frame " << i;
    gst_buffer_unref(out);
  }
  gdouble mean_batch = 0;
  g_object_get(filter(h), "mean-batch-frames", &mean_batch, nullptr);
  EXPECT_DOUBLE_EQ(mean_batch, 4.0);
  gst_harness_teardown(h);
}

// Tiled scoring of a wide strip: six 96-px textures side by side, a spot in the fifth;
// tiles=6x1 scores each, the meta carries the six scores and the worst tile (the spotted one), the
// message and the JSON line carry them too; the heatmap has the strip's shape.
TEST_F(Element, TiledScoringOfAWideStrip) {
  const std::string results = fixtures::temp_dir() + "/tiles.jsonl";
  GstHarness* h = harness("tiles=6x1 localization=on results-file=" + results,
                          "video/x-raw,format=RGB,width=576,height=96,framerate=30/1");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  gst_harness_play(h);
  Image strip;
  strip.width = 6 * kSize;
  strip.height = kSize;
  strip.pixels.resize(static_cast<size_t>(strip.width) * kSize * 3);
  for (int t = 0; t < 6; ++t) {
    const Image tile = t == 4 ? defective(3) : good(40 + t);
    for (int y = 0; y < kSize; ++y)
      std::copy_n(&tile.pixels[static_cast<size_t>(y) * kSize * 3], kSize * 3,
                  &strip.pixels[(static_cast<size_t>(y) * strip.width + t * kSize) * 3]);
  }
  GstBuffer* out = gst_harness_push_and_pull(h, frame(strip));
  ASSERT_NE(out, nullptr);
  GstDifferNetMeta* m = meta(out);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->n_tiles, 6u);
  EXPECT_EQ(m->tile_columns, 6u);
  EXPECT_EQ(m->worst_tile, 4);
  EXPECT_EQ(m->score, m->tile_scores[4]);
  EXPECT_TRUE(m->anomaly);
  EXPECT_EQ(m->heatmap_width, 6 * m->heatmap_height);
  {  // the overlay outlines the worst tile in the verdict's red: its left edge at x = 4 * 96
    const std::vector<uint8_t> px = bytes(out);
    const size_t i = (static_cast<size_t>(48) * 6 * kSize + 4 * kSize) * 3;
    EXPECT_EQ(px[i], 255);
    EXPECT_EQ(px[i + 1], 0);
    EXPECT_EQ(px[i + 2], 0);
  }
  GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);
  ASSERT_NE(msg, nullptr);
  const GstStructure* st = gst_message_get_structure(msg);
  int worst = -1;
  EXPECT_TRUE(gst_structure_get_int(st, "worst-tile", &worst));
  EXPECT_EQ(worst, 4);
  const GValue* scores = gst_structure_get_value(st, "tile-scores");
  ASSERT_NE(scores, nullptr);
  EXPECT_EQ(gst_value_array_get_size(scores), 6u);
  gst_message_unref(msg);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  gst_object_unref(bus);
  std::ifstream in(results);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("worst_tile").get<int>(), 4);
  EXPECT_EQ(j.at("tile_scores").size(), 6u);
  EXPECT_DOUBLE_EQ(j.at("tile_scores")[4].get<double>(), j.at("score").get<double>());
}

// A detector fails closed: an uncalibrated model (no threshold) is refused at start with an error
// that says how to calibrate, unless `threshold` is set; swapped in while PLAYING it is refused with
// a warning and the old model keeps scoring; and `threshold` cannot go back to -1 over it.
TEST_F(Element, UncalibratedModelsFailClosed) {
  const std::string dir = fixtures::temp_dir(), uncalibrated = dir + "/uncalibrated.model";
  {
    Model m = load_model(model_);
    m.calibration = Calibration{};
    save_model(m, uncalibrated);
  }
  GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
  g_object_set(e, "model", uncalibrated.c_str(), "device", fixtures::test_device().c_str(), nullptr);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(e, bus);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  const std::string error = pop_error(bus);
  EXPECT_NE(error.find("has no calibrated threshold"), std::string::npos) << error;
  EXPECT_NE(error.find("differnet-calibrate"), std::string::npos) << error;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);

  // With an explicit threshold it runs, and the threshold cannot be reset to the model's (none).
  GstHarness* h = harness("overlay=none post-messages=false threshold=5 model=" + uncalibrated);
  gst_element_set_bus(h->element, bus);
  GstBuffer* out = gst_harness_push_and_pull(h, frame(good(0)));
  EXPECT_DOUBLE_EQ(meta(out)->threshold, 5.0);
  gst_buffer_unref(out);
  g_object_set(filter(h), "threshold", -1.0, nullptr);
  gdouble threshold = 0;
  g_object_get(filter(h), "threshold", &threshold, nullptr);
  EXPECT_DOUBLE_EQ(threshold, 5.0);
  const std::string refused = pop_warning(bus);
  EXPECT_NE(refused.find("no calibrated threshold"), std::string::npos) << refused;
  gst_harness_teardown(h);

  // Swapped in while PLAYING without a threshold: refused, the old model keeps scoring.
  h = harness("overlay=none post-messages=false");
  gst_element_set_bus(h->element, bus);
  out = gst_harness_push_and_pull(h, frame(good(0)));
  const std::string id = meta(out)->model_id;
  const double calibrated_threshold = meta(out)->threshold;
  gst_buffer_unref(out);
  g_object_set(filter(h), "model", uncalibrated.c_str(), nullptr);
  std::string warning;
  for (int wait = 0; wait < 500 && warning.empty(); ++wait) {
    out = gst_harness_push_and_pull(h, frame(good(1)));
    EXPECT_EQ(std::string(meta(out)->model_id), id);
    EXPECT_DOUBLE_EQ(meta(out)->threshold, calibrated_threshold);
    gst_buffer_unref(out);
    warning = pop_warning(bus);
    if (warning.empty()) g_usleep(10000);
  }
  EXPECT_NE(warning.find("Could not switch to model '" + uncalibrated + "'"), std::string::npos) << warning;
  EXPECT_NE(warning.find("no calibrated threshold"), std::string::npos) << warning;
  out = gst_harness_push_and_pull(h, frame(defective(3)));
  EXPECT_EQ(std::string(meta(out)->model_id), id);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// A tiling set while PLAYING that cannot cut the current frames (96 px into 64 columns: tiles
// narrower than 8 px) is a warning and the old tiling is kept: the pipeline keeps running.
TEST_F(Element, TilesThatDoNotFitWhilePlaying) {
  GstHarness* h = harness("overlay=none post-messages=false tiles=2x1");
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  GstBuffer* out = gst_harness_push_and_pull(h, frame(good(0)));
  gst_buffer_unref(out);
  g_object_set(filter(h), "tiles", "64x1", nullptr);
  const std::string warning = pop_warning(bus);
  EXPECT_NE(warning.find("smaller than 8x8"), std::string::npos) << warning;
  EXPECT_NE(warning.find("tiles '2x1' kept"), std::string::npos) << warning;
  gchar* tiles = nullptr;
  g_object_get(filter(h), "tiles", &tiles, nullptr);
  EXPECT_STREQ(tiles, "2x1");
  g_free(tiles);
  for (int i = 1; i < 3; ++i) {
    out = gst_harness_push_and_pull(h, frame(good(i)));
    ASSERT_NE(out, nullptr);
    ASSERT_NE(meta(out), nullptr);
    gst_buffer_unref(out);
  }
  EXPECT_EQ(pop_error(bus), "");
  gst_harness_teardown(h);
  gst_object_unref(bus);
}

// The fixture model's scores, good and defective, stay far below 1e6, so that the comparisons of
// two computations above are well conditioned (test_support.h: trained with feature noise).
TEST_F(Element, FixtureScoresAreWellConditioned) {
  GstHarness* h = harness("overlay=none post-messages=false");
  for (int i = 0; i < 4; ++i) {
    GstBuffer* out = gst_harness_push_and_pull(h, frame(i % 2 ? defective(i) : good(i)));
    EXPECT_GT(meta(out)->score, 0.0) << "frame " << i;
    EXPECT_LT(meta(out)->score, 1e6) << "frame " << i;
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

// A model with a local scorer: the heatmap comes from the forward pass ("local"), its hottest point
// lies on the planted spot, and the point reaches the meta, the message and the results file. The
// gradient stays one property away. localization-method=local with a model that has no local scorer
// is refused: at start an error, while PLAYING a warning with the method in use kept.
TEST_F(Element, LocalHeatmapPointsAtTheDefect) {
  const std::string dir = fixtures::temp_dir(), local = dir + "/local.model", results = dir + "/results.jsonl";
  fixtures::train_texture_model(local, kSize, 12, 40, /*local=*/true);
  GstHarness* h = harness("overlay=all results-file=" + results + " model=" + local);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  int near = 0, boxed = 0;
  const int frames = 6;
  for (int i = 0; i < frames; ++i) {
    GstBuffer* out = gst_harness_push_and_pull(h, frame(defective(10 + i)));
    GstDifferNetMeta* m = meta(out);
    ASSERT_NE(m, nullptr);
    EXPECT_STREQ(m->heatmap_method, "local");
    ASSERT_NE(m->heatmap, nullptr);
    const fixtures::Spot s = spot(10 + i);
    // One cell of the deepest map (fire7: 7 x 7 at 128 px) is 13.7 frame px: the peak within two.
    const double distance = std::hypot(m->peak_x - s.x, m->peak_y - s.y);
    std::printf("frame %d: spot at (%d,%d), local peak at (%d,%d), %.1f px away\n", i, s.x, s.y, m->peak_x, m->peak_y,
                distance);
    near += distance <= 2 * 13.7;
    // The defect region (the model's pixel threshold from its held-out good textures) as a standard
    // region of interest holding the spot's centre, within one cell of fire7's map.
    GstVideoRegionOfInterestMeta* roi = gst_buffer_get_video_region_of_interest_meta_id(out, 0);
    if (roi) {
      EXPECT_STREQ(g_quark_to_string(roi->roi_type), "defect");
      const GstStructure* p = gst_video_region_of_interest_meta_get_param(roi, "differnet/defect");
      ASSERT_NE(p, nullptr);
      double peak = 0, pixel_threshold = 0;
      EXPECT_TRUE(gst_structure_get_double(p, "peak", &peak) && gst_structure_get_double(p, "pixel-threshold", &pixel_threshold));
      EXPECT_GE(peak, pixel_threshold);
      boxed += s.x >= static_cast<int>(roi->x) - 14 && s.x <= static_cast<int>(roi->x + roi->w) + 14 &&
               s.y >= static_cast<int>(roi->y) - 14 && s.y <= static_cast<int>(roi->y + roi->h) + 14;
    }
    GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);
    ASSERT_NE(msg, nullptr);
    gint px = -1, py = -1;
    EXPECT_TRUE(gst_structure_get_int(gst_message_get_structure(msg), "peak-x", &px));
    EXPECT_TRUE(gst_structure_get_int(gst_message_get_structure(msg), "peak-y", &py));
    EXPECT_EQ(px, m->peak_x);
    EXPECT_EQ(py, m->peak_y);
    EXPECT_STREQ(gst_structure_get_string(gst_message_get_structure(msg), "heatmap-method"), "local");
    gst_message_unref(msg);
    gst_buffer_unref(out);
  }
  EXPECT_EQ(near, frames);
  EXPECT_EQ(boxed, frames);  // every spot got a region holding it
  gst_util_set_object_arg(G_OBJECT(filter(h)), "localization-method", "gradient");
  GstBuffer* out = gst_harness_push_and_pull(h, frame(defective(3)));
  EXPECT_STREQ(meta(out)->heatmap_method, "gradient");
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  std::ifstream in(results);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("peak_x") && j.contains("peak_y")) << line;
    EXPECT_EQ(j["heatmap_method"], lines < frames ? "local" : "gradient") << line;
    if (lines < frames) EXPECT_TRUE(j.contains("defects") && j["defects"].size() >= 1 && j["defects"][0].contains("peak")) << line;
    ++lines;
  }
  EXPECT_EQ(lines, frames + 1);

  // The fixture model has no local scorer: local is refused at start...
  GstElement* e = gst_element_factory_make("differnetfilter", nullptr);
  g_object_set(e, "model", model_.c_str(), "device", fixtures::test_device().c_str(), nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "localization-method", "local");
  gst_element_set_bus(e, bus);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  const std::string error = pop_error(bus);
  EXPECT_NE(error.find("has no local scorer"), std::string::npos) << error;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
  // ... and while PLAYING: a warning, auto kept (the gradient for this model).
  h = harness("overlay=none post-messages=false");
  gst_element_set_bus(h->element, bus);
  gst_buffer_unref(gst_harness_push_and_pull(h, frame(good(0))));
  gst_util_set_object_arg(G_OBJECT(filter(h)), "localization-method", "local");
  GValue method = G_VALUE_INIT;
  g_value_init(&method, G_TYPE_STRING);
  {
    GValue v = G_VALUE_INIT;
    g_object_get_property(G_OBJECT(filter(h)), "localization-method", &v);
    GEnumClass* k = G_ENUM_CLASS(g_type_class_ref(G_VALUE_TYPE(&v)));
    g_value_set_string(&method, g_enum_get_value(k, g_value_get_enum(&v))->value_nick);
    g_type_class_unref(k);
    g_value_unset(&v);
  }
  EXPECT_STREQ(g_value_get_string(&method), "auto");
  g_value_unset(&method);
  const std::string warning = pop_warning(bus);
  EXPECT_NE(warning.find("no local scorer"), std::string::npos) << warning;
  out = gst_harness_push_and_pull(h, frame(defective(3)));
  EXPECT_STREQ(meta(out)->heatmap_method, "gradient");
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}
