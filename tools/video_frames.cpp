#include "video_frames.h"

#include <algorithm>
#include <cctype>

#include "error.h"
#include "image_file.h"

#ifdef DIFFERNET_VIDEO_INPUT
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#endif

namespace differnet::cli {

bool is_video_path(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* v : {"mp4", "mkv", "avi", "mov", "webm", "ogv", "ts", "m4v", "mjpeg"})
    if (ext == v) return true;
  return false;
}

#ifdef DIFFERNET_VIDEO_INPUT

bool video_input_available() { return true; }

namespace {

// The first error on the pipeline's bus, or "".
std::string bus_error(GstElement* pipeline) {
  GstBus* bus = gst_element_get_bus(pipeline);
  std::string text;
  if (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(m, &err, &debug);
    text = err->message;  // (the debug string names GStreamer's source files: not for users)
    g_error_free(err);
    g_free(debug);
    gst_message_unref(m);
  }
  gst_object_unref(bus);
  return text;
}

}  // namespace

int64_t read_video_frames(const std::string& path, int interval,
                          const std::function<bool(const FrameView&, int64_t)>& take) {
  if (interval < 1) throw Error("the video frame interval must be >= 1");
  if (!gst_is_initialized()) gst_init(nullptr, nullptr);
  GError* err = nullptr;
  gchar* uri = gst_filename_to_uri(path.c_str(), &err);
  if (!uri) {
    const std::string why = err ? err->message : "not a file name";
    if (err) g_error_free(err);
    throw Error("cannot read video '" + path + "': " + why);
  }
  GstElement* pipeline = gst_parse_launch(
      "uridecodebin name=d ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false max-buffers=4",
      &err);
  if (!pipeline) {
    const std::string why = err ? err->message : "?";
    if (err) g_error_free(err);
    g_free(uri);
    throw Error("cannot read video '" + path + "': GStreamer elements missing (" + why + ")");
  }
  GstElement* d = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  g_object_set(d, "uri", uri, nullptr);
  gst_object_unref(d);
  g_free(uri);
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  auto cleanup = [&] {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
  };
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    const std::string why = bus_error(pipeline);
    cleanup();
    throw Error("cannot read video '" + path + "': " + (why.empty() ? "it does not play" : why));
  }
  int64_t index = 0;
  bool more = true;
  try {
    while (more) {
      // Polled, with the bus checked in between: after an error (a file that is not a video) no
      // EOS comes, and a blocking pull would wait for ever.
      GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 100 * GST_MSECOND);
      if (!sample) {
        if (gst_app_sink_is_eos(GST_APP_SINK(sink))) break;
        const std::string why = bus_error(pipeline);
        if (!why.empty()) throw Error("cannot read video '" + path + "': " + why);
        continue;
      }
      if (index % interval == 0) {
        GstVideoInfo info;
        GstVideoFrame frame;
        if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) ||
            !gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ)) {
          gst_sample_unref(sample);
          throw Error("cannot read video '" + path + "': frame " + std::to_string(index) + " cannot be mapped");
        }
        if (static_cast<int64_t>(GST_VIDEO_FRAME_WIDTH(&frame)) * GST_VIDEO_FRAME_HEIGHT(&frame) > kMaxImagePixels) {
          const int w = GST_VIDEO_FRAME_WIDTH(&frame), h = GST_VIDEO_FRAME_HEIGHT(&frame);
          gst_video_frame_unmap(&frame);
          gst_sample_unref(sample);
          check_image_pixels("a frame of video '" + path + "'", w, h);
        }
        const FrameView view{static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)),
                             GST_VIDEO_FRAME_WIDTH(&frame), GST_VIDEO_FRAME_HEIGHT(&frame),
                             GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0), PixelFormat::RGB};
        try {
          more = take(view, index);
        } catch (...) {
          gst_video_frame_unmap(&frame);
          gst_sample_unref(sample);
          throw;
        }
        gst_video_frame_unmap(&frame);
      }
      gst_sample_unref(sample);
      ++index;
    }
  } catch (...) {
    cleanup();
    throw;
  }
  const std::string why = bus_error(pipeline);
  cleanup();
  if (!why.empty()) throw Error("cannot read video '" + path + "': " + why);
  if (index == 0) throw Error("video '" + path + "' has no frames");
  return index;
}

#else

bool video_input_available() { return false; }

int64_t read_video_frames(const std::string& path, int, const std::function<bool(const FrameView&, int64_t)>&) {
  throw Error("cannot read video '" + path + "': this build of differnet-train has no video input "
              "(it needs GStreamer's gstreamer-app-1.0 at build time)");
}

#endif

}  // namespace differnet::cli
