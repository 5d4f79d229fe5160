// multi-camera: N sources -> one differnetfilter each, all sharing one loaded model -> a tiled view
// (compositor) on the screen, in an MP4, or nowhere; a pad probe per stream reads GstDifferNetMeta.
// At the end it prints, per stream and in total, frames, anomalies and frames per second. Like
// DeepStream's multi-stream samples, for DifferNet.
//
//   multi-camera MODEL OUTPUT SOURCE [SOURCE ...]
//     MODEL   a DifferNet model file
//     OUTPUT  screen | none | FILE.mp4
//     SOURCE  a source in gst-launch syntax, e.g. "v4l2src device=/dev/video0",
//             "filesrc location=line1.mp4 ! decodebin", "videotestsrc num-buffers=100"
//   TILE=WxH (default 320x240) sets the size of each stream's tile; FILTER_PROPS adds properties to
//   every differnetfilter (e.g. FILTER_PROPS="when-busy=pass localization=on-anomaly", or
//   FILTER_PROPS="batch-size=4" to score the four streams' frames in one pass: cross-stream batching).
//
// Build: part of the project (build/examples/multi-camera); run with GST_PLUGIN_PATH=build/plugin.
#include <gst/gst.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include <gst/differnet/differnetmeta.h>

namespace {

struct Stream {
  std::mutex lock;
  guint64 frames = 0, anomalies = 0, without_meta = 0;
  double max_score = 0;
  std::chrono::steady_clock::time_point first, last;
};

GstPadProbeReturn on_buffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* s = static_cast<Stream*>(data);
  const GstDifferNetMeta* m = gst_buffer_get_differnet_meta(GST_PAD_PROBE_INFO_BUFFER(info));
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> guard(s->lock);
  if (s->frames + s->without_meta == 0) s->first = now;
  s->last = now;
  if (!m) {
    ++s->without_meta;
    return GST_PAD_PROBE_OK;
  }
  ++s->frames;
  if (m->anomaly) ++s->anomalies;
  if (std::isfinite(m->score) && m->score > s->max_score) s->max_score = m->score;
  return GST_PAD_PROBE_OK;
}

int usage() {
  std::fprintf(stderr, "usage: multi-camera MODEL OUTPUT SOURCE [SOURCE ...]\n"
                       "  OUTPUT: screen | none | FILE.mp4; SOURCE: a source in gst-launch syntax\n"
                       "  e.g. multi-camera parts.model tiled.mp4 \"videotestsrc num-buffers=100\" \"v4l2src\"\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  if (argc < 4) return usage();
  const std::string model = argv[1], output = argv[2];
  const int n = argc - 3;
  int tile_w = 320, tile_h = 240;
  if (const char* tile = std::getenv("TILE")) {
    if (std::sscanf(tile, "%dx%d", &tile_w, &tile_h) != 2 || tile_w < 16 || tile_h < 16) {
      std::fprintf(stderr, "multi-camera: TILE must be WxH (at least 16x16), got '%s'\n", tile);
      return 2;
    }
  }
  const char* extra = std::getenv("FILTER_PROPS");
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));

  std::string desc = "compositor name=mix background=black";
  for (int i = 0; i < n; ++i)
    desc += " sink_" + std::to_string(i) + "::xpos=" + std::to_string((i % cols) * tile_w) + " sink_" +
            std::to_string(i) + "::ypos=" + std::to_string((i / cols) * tile_h);
  desc += " ! videoconvert ! ";
  if (output == "screen") desc += "autovideosink";
  else if (output == "none") desc += "fakesink sync=false";
  else desc += "video/x-raw,format=I420 ! x264enc speed-preset=ultrafast ! mp4mux ! filesink location=\"" + output + "\"";
  for (int i = 0; i < n; ++i) {
    desc += " " + std::string(argv[3 + i]) + " ! videoconvert ! videoscale ! video/x-raw,width=" +
            std::to_string(tile_w) + ",height=" + std::to_string(tile_h) + " ! differnetfilter name=stream" +
            std::to_string(i) + " model=\"" + model + "\" post-messages=false " + (extra ? extra : "") +
            " ! queue ! mix.sink_" + std::to_string(i);
  }
  GError* err = nullptr;
  GstElement* pipeline = gst_parse_launch(desc.c_str(), &err);
  if (!pipeline || err) {
    std::fprintf(stderr, "multi-camera: cannot build the pipeline: %s\n", err ? err->message : "?");
    return 1;
  }
  std::vector<Stream> streams(n);
  for (int i = 0; i < n; ++i) {
    GstElement* f = gst_bin_get_by_name(GST_BIN(pipeline), ("stream" + std::to_string(i)).c_str());
    GstPad* pad = gst_element_get_static_pad(f, "src");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &streams[i], nullptr);
    gst_object_unref(pad);
    gst_object_unref(f);
  }
  const auto start = std::chrono::steady_clock::now();
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::fprintf(stderr, "multi-camera: the pipeline did not start (see the error above)\n");
  }
  GstElement* first = gst_bin_get_by_name(GST_BIN(pipeline), "stream0");
  int users = 0;
  GstBus* bus = gst_element_get_bus(pipeline);
  int status = 0;
  for (bool done = false; !done;) {
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_ASYNC_DONE));
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ASYNC_DONE:
        if (users == 0) {
          g_object_get(first, "model-users", &users, nullptr);
          std::printf("%d stream(s), model %s loaded once for %d element(s)\n", n, model.c_str(), users);
        }
        break;
      case GST_MESSAGE_EOS:
        done = true;
        break;
      case GST_MESSAGE_ERROR:
      case GST_MESSAGE_WARNING: {
        GError* e = nullptr;
        gchar* debug = nullptr;
        if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) gst_message_parse_error(msg, &e, &debug);
        else gst_message_parse_warning(msg, &e, &debug);
        std::fprintf(stderr, "multi-camera: %s from %s: %s\n", GST_MESSAGE_TYPE_NAME(msg),
                     GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), e->message);
        if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
          status = 1;
          done = true;
        }
        g_error_free(e);
        g_free(debug);
        break;
      }
      default:
        break;
    }
    gst_message_unref(msg);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> mean_batch(static_cast<size_t>(n), 0.0);  // frames per scoring pass (batch-size > 1)
  for (int i = 0; i < n; ++i) {
    GstElement* f = gst_bin_get_by_name(GST_BIN(pipeline), ("stream" + std::to_string(i)).c_str());
    if (f) {
      g_object_get(f, "mean-batch-frames", &mean_batch[static_cast<size_t>(i)], nullptr);
      gst_object_unref(f);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  guint64 total = 0, anomalies = 0;
  for (int i = 0; i < n; ++i) {
    Stream& s = streams[i];
    const double span = std::chrono::duration<double>(s.last - s.first).count();
    std::printf("stream %d: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " anomalous, highest score %.4g, "
                "%.2f frames/s, %.2f frames per scoring pass%s\n", i, s.frames, s.anomalies, s.max_score,
                s.frames > 1 && span > 0 ? (s.frames - 1) / span : 0.0, mean_batch[static_cast<size_t>(i)],
                s.without_meta ? " (some frames without meta!)" : "");
    total += s.frames;
    anomalies += s.anomalies;
  }
  std::printf("total: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " anomalous, %.2f frames/s over %.1f s "
              "(start-up included)\n", total, anomalies, total / wall, wall);
  gst_object_unref(first);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return status;
}
