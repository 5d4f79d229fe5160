/* differnetfilter's private parts, shared by the files that implement it:
 *   gstdiffernetfilter.cpp         the element: properties, start/stop, the flow of frames
 *   gstdiffernetfilter_output.cpp  what a scored frame leaves with: meta, messages, results line, overlay
 *   gstdiffernetfilter_swap.cpp    the live model swap between two frames
 *   gstdiffernetfilter_learn.cpp   learn mode: learning a model from the stream
 * Not installed; no LibTorch type here. */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "detector.h"
#include "gstdiffernetfilter.h"
#include "learner.h"
#include "model_loader.h"
#include "overlay.h"
#include "scoring_queue.h"
#include "snapshots.h"

GST_DEBUG_CATEGORY_EXTERN (gst_differnet_filter_debug);

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_ACTIVE_DEVICE,
  PROP_THREADS,
  PROP_PRECISION,
  PROP_FLOW_PRECISION,
  PROP_ACTIVE_PRECISION,
  PROP_ACTIVE_FLOW_PRECISION,
  PROP_FRAMES_IN_FLIGHT,
  PROP_THRESHOLD,
  PROP_TRANSFORMS,
  PROP_LOCALIZATION,
  PROP_LOCALIZATION_METHOD,
  PROP_OVERLAY,
  PROP_HEATMAP_ALPHA,
  PROP_INFERENCE_INTERVAL,
  PROP_ROI,
  PROP_TILES,
  PROP_TILE_OVERLAP,
  PROP_POST_MESSAGES,
  PROP_MESSAGE_MODE,
  PROP_RESULTS_FILE,
  PROP_SNAPSHOT_DIR,
  PROP_FRAMES_SCORED,
  PROP_FRAMES_REUSED,
  PROP_FRAMES_PASSED,
  PROP_MODEL_USERS,
  PROP_SHARE_MODEL,
  PROP_WHEN_BUSY,
  PROP_MEAN_INFERENCE_MS,
  PROP_LAST_INFERENCE_MS,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
  PROP_MEAN_BATCH_FRAMES,
  /* learn mode (gstdiffernetfilter_learn.cpp) */
  PROP_MODE,
  PROP_LEARN_FRAMES,
  PROP_LEARN_INTERVAL,
  PROP_LEARN_ROI,
  PROP_LEARN_OUTPUT,
  PROP_LEARN_PRESET,
  PROP_LEARN_SETTINGS,
  PROP_LEARN_MIN_DIFFERENCE,
};

#define DEFAULT_PROP_DEVICE "auto"
#define DEFAULT_PROP_THREADS 0
#define DEFAULT_PROP_PRECISION "auto"
#define DEFAULT_PROP_FLOW_PRECISION "auto"
#define DEFAULT_PROP_FRAMES_IN_FLIGHT 1
#define DEFAULT_PROP_BATCH_SIZE 1
#define DEFAULT_PROP_BATCH_TIMEOUT 40000
#define DEFAULT_PROP_THRESHOLD -1.0
#define DEFAULT_PROP_TRANSFORMS 1
#define DEFAULT_PROP_LOCALIZATION GST_DIFFERNET_LOCALIZATION_ON
#define DEFAULT_PROP_LOCALIZATION_METHOD GST_DIFFERNET_LOCALIZATION_METHOD_AUTO
#define DEFAULT_PROP_OVERLAY GST_DIFFERNET_OVERLAY_ALL
#define DEFAULT_PROP_HEATMAP_ALPHA 0.5
#define DEFAULT_PROP_INFERENCE_INTERVAL 1
#define DEFAULT_PROP_POST_MESSAGES TRUE
#define DEFAULT_PROP_MESSAGE_MODE GST_DIFFERNET_MESSAGE_EVERY_FRAME
#define DEFAULT_PROP_MODE GST_DIFFERNET_MODE_INSPECT
#define DEFAULT_PROP_LEARN_FRAMES 100
#define DEFAULT_PROP_LEARN_INTERVAL 5
#define DEFAULT_PROP_LEARN_PRESET "accurate"
#define DEFAULT_PROP_LEARN_MIN_DIFFERENCE 1.0


namespace differnet::filter {

// Property values; read and written under the object lock.
struct Settings {
  std::string model, device = DEFAULT_PROP_DEVICE, results_file, snapshot_dir;
  std::string precision = DEFAULT_PROP_PRECISION;
  std::string flow_precision = DEFAULT_PROP_FLOW_PRECISION;
  int threads = DEFAULT_PROP_THREADS;
  int frames_in_flight = DEFAULT_PROP_FRAMES_IN_FLIGHT;
  int batch_size = DEFAULT_PROP_BATCH_SIZE;
  guint batch_timeout_us = DEFAULT_PROP_BATCH_TIMEOUT;
  GstDifferNetWhenBusy when_busy = GST_DIFFERNET_WHEN_BUSY_WAIT;
  bool share_model = true;
  double threshold = DEFAULT_PROP_THRESHOLD;
  int transforms = DEFAULT_PROP_TRANSFORMS;
  GstDifferNetLocalization localization = DEFAULT_PROP_LOCALIZATION;
  GstDifferNetLocalizationMethod localization_method = DEFAULT_PROP_LOCALIZATION_METHOD;
  GstDifferNetOverlay overlay = DEFAULT_PROP_OVERLAY;
  double heatmap_alpha = DEFAULT_PROP_HEATMAP_ALPHA;
  int inference_interval = DEFAULT_PROP_INFERENCE_INTERVAL;
  differnet::Region roi;
  std::string tiles;            // "" = the model's tiling
  double tile_overlap = -1.0;   // < 0 = the model's
  bool post_messages = DEFAULT_PROP_POST_MESSAGES;
  GstDifferNetMessageMode message_mode = DEFAULT_PROP_MESSAGE_MODE;
  // learn mode
  GstDifferNetMode mode = DEFAULT_PROP_MODE;
  int learn_frames = DEFAULT_PROP_LEARN_FRAMES;
  int learn_interval = DEFAULT_PROP_LEARN_INTERVAL;
  bool learn_roi_set = false;   // false: learn from `roi`
  differnet::Region learn_roi;
  std::string learn_output;     // "" = `model`
  std::string learn_preset = DEFAULT_PROP_LEARN_PRESET;
  std::map<std::string, std::string> learn_settings;  // the learn-settings structure's fields
  std::string learn_settings_text;                    // as given, for reading back
  double learn_min_difference = DEFAULT_PROP_LEARN_MIN_DIFFERENCE;
  guint64 learn_requests = 0;   // mode set to learn while running: a new run for the streaming thread
  guint64 finish_requests = 0;  // the finish-learning action signal
  // Properties last set to a value that could not be used (name -> why). A typo in what is
  // inspected must not silently become "the whole frame" or "the default": start() refuses to run
  // while any is here, and a bad value set while running keeps the old one with a warning message.
  std::map<std::string, std::string> invalid;
};

// Read-only statistics, under the object lock.
struct Stats {
  guint64 scored = 0, reused = 0;
  guint64 passed = 0;  // when-busy=pass: frames due for scoring that went on because the scorer was busy
  double total_ms = 0, last_ms = 0;
  guint64 batch_frames = 0;  // sum over scored frames of the frames in their batch
};

// The last scored result, carried by the frames that reuse it.
struct LastResult {
  differnet::Detection detection;
  differnet::Region region;
  int transforms = 0;
};

// Per-run state: created in start(), dropped in stop(); touched by the streaming thread only
// (start/stop and set_info run with the stream stopped; the scheduler sees only the queue's jobs).
struct RunState {
  std::shared_ptr<differnet::Detector> detector;  // shared with the elements that load the same model
  std::string model_path;  // the file `detector` was loaded from
  std::unique_ptr<differnet::ScoringQueue> queue;  // declared after the detector: it goes first
  // when-busy=pass: frames scored in the background (no buffer: the frame went on); at most one.
  std::unique_ptr<differnet::ScoringQueue> background;
  // A live model swap in progress (`model` set while running); declared after the queues and the
  // detector, so that it is destroyed (its loading thread joined) before them.
  std::unique_ptr<differnet::ModelLoader> loader;
  int frames_in_flight = 1;
  differnet::BatchPolicy batch;  // batch-size and batch-timeout, for every queue of the run
  std::string model_id, active_device, active_precision, active_flow_precision;
  // Whether the model scoring now has a calibrated threshold (read by set_property under the object
  // lock, so that `threshold` cannot go back to -1 over an uncalibrated model).
  std::atomic<bool> model_calibrated{true};
  std::atomic<bool> model_local{false};  // the running model has a local scorer
  double pixel_threshold = 0.0;          // the running model's (NaN: none); streaming thread only
  FILE* results = nullptr;
  guint64 results_lost = 0;  // lines that could not be written
  differnet::SnapshotWriter snapshots;  // dir empty: no snapshots
  differnet::PixelFormat format = differnet::PixelFormat::RGB;
  int width = 0, height = 0;
  guint64 frame = 0;
  std::unique_ptr<LastResult> last;
  bool scored_any = false;  // a scored frame is queued or has left since the last reset
  int last_verdict = -1;  // for message-mode=on-change: -1 none yet, else 0/1
  // learn mode: the run in progress (null when none); declared last, so that it goes first (its
  // training thread joined) when the run state is dropped.
  GstBuffer* passthrough = nullptr;  // no model yet: the frame that leaves as it came (learning)
  guint64 learn_requests_seen = 0, finish_requests_seen = 0;
  guint64 learn_seen = 0;       // frames seen by the run (learn-interval counts them)
  int learn_posted_epoch = -1, learn_posted_collected = -1, learn_posted_features = -1;
  std::string learn_first_taken;  // the run's first model (the Gaussian's) once handed over: its id
  std::unique_ptr<differnet::Learner> learner;
  ~RunState() {
    learner.reset();
    if (passthrough) gst_buffer_unref(passthrough);
    if (results) std::fclose(results);
  }
};


}  // namespace differnet::filter
using namespace differnet::filter;

struct _GstDifferNetFilter {
  GstVideoFilter parent;
  Settings* settings;
  Stats* stats;
  RunState* state;  // null while stopped
};

/* A mapped frame's pixels as the model library and the overlay take them. */
inline differnet::FrameView
differnet_filter_frame_view (const GstVideoFrame * f, differnet::PixelFormat format)
{
  return differnet::FrameView {static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA (f, 0)),
    GST_VIDEO_FRAME_WIDTH (f), GST_VIDEO_FRAME_HEIGHT (f), GST_VIDEO_FRAME_PLANE_STRIDE (f, 0), format};
}
inline differnet::overlay::Canvas
differnet_filter_canvas (GstVideoFrame * f, differnet::PixelFormat format)
{
  return differnet::overlay::Canvas {static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA (f, 0)),
    GST_VIDEO_FRAME_WIDTH (f), GST_VIDEO_FRAME_HEIGHT (f), GST_VIDEO_FRAME_PLANE_STRIDE (f, 0), format};
}

/* Shared between the element's files. Each runs on the streaming thread unless it says otherwise. */

/* gstdiffernetfilter.cpp: a region property (roi, learn-roi) set to `text`, under the object lock:
 * parsed, and checked against the negotiated frame while running. FALSE with `rejected` and the
 * settings' invalid entry set when it cannot be used. */
gboolean differnet_filter_parse_region (GstDifferNetFilter * self, const char *name, const char *text,
    differnet::Region & region, std::string & rejected);

/* gstdiffernetfilter.cpp: sends every held frame on, in order. */
GstFlowReturn differnet_filter_drain (GstDifferNetFilter * self);

/* gstdiffernetfilter_output.cpp */
/* A scored job's result becomes the last result and is counted in the statistics. */
void differnet_filter_keep_result (GstDifferNetFilter * self, differnet::FrameJob & job);
/* Meta, statistics, messages, results line, overlay and snapshot for a frame whose job is done;
 * returns the writable buffer to push, or NULL after posting an error. */
GstBuffer *differnet_filter_finish_frame (GstDifferNetFilter * self, std::unique_ptr<differnet::FrameJob> job);

/* gstdiffernetfilter_swap.cpp: switches to a model the loader finished (or warns and keeps the old). */
GstFlowReturn differnet_filter_switch_model (GstDifferNetFilter * self, differnet::ModelLoader::Result result);
/* gstdiffernetfilter.cpp: why a `tiles` value ("CxR", with `overlap`) cannot cut the region (`roi`, or
 * the whole frame) of width x height frames; "" when it can, for ""/"auto", or while the size is unknown. */
std::string differnet_filter_tiling_misfit (const std::string & tiles, double overlap, const differnet::Region & roi,
    int width, int height);
/* Why an uncalibrated model is refused without a 'threshold', and how to calibrate it. */
std::string differnet_filter_uncalibrated_hint ();
/* The request that warms a model up for the element's settings. */
differnet::DetectRequest differnet_filter_warm_request (const Settings & s);

/* gstdiffernetfilter_learn.cpp */
void differnet_filter_install_learn_api (GObjectClass * gobject_class);
/* Under the object lock; TRUE when prop_id is a learn property (`rejected` set for a bad value). */
gboolean differnet_filter_set_learn_property (GstDifferNetFilter * self, guint prop_id, const GValue * value,
    std::string & rejected);
gboolean differnet_filter_get_learn_property (GstDifferNetFilter * self, guint prop_id, GValue * value);
/* start(): learn mode makes a missing model file acceptable; FALSE after posting an error. */
gboolean differnet_filter_learn_start (GstDifferNetFilter * self, const Settings & s, RunState & state);
/* Per frame, before it is scored: starts, stops and finishes learning runs, collects the frame. */
GstFlowReturn differnet_filter_learn_step (GstDifferNetFilter * self, GstBuffer * buffer, const Settings & s);
/* Draws the learning banner on a frame leaving while a run is active (overlay != none). */
GstBuffer *differnet_filter_learn_draw (GstDifferNetFilter * self, GstBuffer * buffer);
/* EOS: trains on what was collected and waits for the model before EOS goes on. */
void differnet_filter_learn_eos (GstDifferNetFilter * self);
