/**
 * SECTION:element-differnetfilter
 * @title: differnetfilter
 *
 * Scores every frame with a DifferNet model (normalizing flow on multi-scale ImageNet features) and
 * passes it on unchanged but for an optional overlay. Each buffer leaves with a #GstDifferNetMeta
 * (C API: gst/differnet/differnetmeta.h) and the same fields as a "DifferNetResult" GstCustomMeta;
 * an element message named "differnet" is posted per frame (or when the verdict changes), with
 * timestamp, stream-time, running-time, duration, score, threshold, anomaly, frame, transforms,
 * reused, inference-ms, model-id and the scored region.
 *
 * Scoring runs on the model's scheduler thread, shared by the elements that share the model. With
 * #GstDifferNetFilter:frames-in-flight = 1 (the default) each frame leaves before the next is taken;
 * with N > 1 the element holds up to N frames, scoring one while the ones before it are drawn and
 * pushed on, and still sends every frame on in order. With #GstDifferNetFilter:batch-size > 1 the
 * frames of the elements sharing the model (and those one element holds) are scored together.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=50 ! videoconvert ! differnetfilter model=parts.model ! \
 *     videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux ! filesink location=out.mp4
 * ]|
 * Train a model first with `differnet-train good_images/ -o parts.model`, or let the element learn
 * one from the stream (#GstDifferNetFilter:mode = learn, gstdiffernetfilter_learn.cpp):
 * |[
 * gst-launch-1.0 -m v4l2src ! videoconvert ! differnetfilter mode=learn learn-frames=100 model=parts.model ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#include "gstdiffernetfilter_private.h"

#include <glib/gstdio.h>
#include <gst/video/video.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "detector.h"
#include "error.h"
#include "model_cache.h"
#include "model_loader.h"
#include "runtime.h"
#include "scoring_queue.h"

GST_DEBUG_CATEGORY (gst_differnet_filter_debug);
#define GST_CAT_DEFAULT gst_differnet_filter_debug

#define VIDEO_FORMATS "{ RGB, BGR, RGBx, BGRx, RGBA, BGRA, GRAY8 }"


#define gst_differnet_filter_parent_class parent_class
G_DEFINE_TYPE (GstDifferNetFilter, gst_differnet_filter, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (differnetfilter, "differnetfilter", GST_RANK_NONE, GST_TYPE_DIFFERNET_FILTER);





static differnet::PixelFormat
pixel_format (GstVideoFormat f)
{
  switch (f) {
    case GST_VIDEO_FORMAT_BGR: return differnet::PixelFormat::BGR;
    case GST_VIDEO_FORMAT_RGBx: return differnet::PixelFormat::RGBx;
    case GST_VIDEO_FORMAT_BGRx: return differnet::PixelFormat::BGRx;
    case GST_VIDEO_FORMAT_RGBA: return differnet::PixelFormat::RGBA;
    case GST_VIDEO_FORMAT_BGRA: return differnet::PixelFormat::BGRA;
    case GST_VIDEO_FORMAT_GRAY8: return differnet::PixelFormat::GRAY8;
    default: return differnet::PixelFormat::RGB;
  }
}

static gboolean
region_fits (const differnet::Region & r, int width, int height)
{
  return r.fits (width, height);
}

/* Properties that need a restart to take effect refuse changes while the element runs. */
static gboolean
check_stopped (GstDifferNetFilter * self, const char *name)
{
  if (self->state == NULL)
    return TRUE;
  g_warning ("differnetfilter: property '%s' can only be changed in the NULL or READY state; ignored", name);
  return FALSE;
}

/* A NULL/READY property naming a choice (precision, flow-precision): kept when `parse` accepts it,
 * else recorded as invalid (start() refuses to run) with the reason in `rejected`. Under the lock. */
template <typename Parse>
static void
set_name_property (GstDifferNetFilter * self, const char *name, const char *text, Parse parse, std::string & field,
    std::string & rejected)
{
  if (!check_stopped (self, name))
    return;
  try {
    parse (text ? text : "");
    field = text;
    self->settings->invalid.erase (name);
  } catch (const differnet::Error & e) {
    rejected = e.what ();
    self->settings->invalid[name] = rejected;
  }
}

static void
gst_differnet_filter_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (object);
  std::string rejected;         /* why the value just set cannot be used */
  GST_OBJECT_LOCK (self);
  const bool running = self->state != NULL;
  Settings & s = *self->settings;
  if (differnet_filter_set_learn_property (self, prop_id, value, rejected))
    prop_id = PROP_0;           /* handled */
  switch (prop_id) {
    case PROP_0:
      break;
    case PROP_MODEL:{
      const std::string path = g_value_get_string (value) ? g_value_get_string (value) : "";
      if (running && path.empty ()) {
        rejected = "model cannot be emptied while running; the current model keeps running";
      } else if (running) {  /* the same path again reloads it: a model retrained in place */
        /* A live swap: loaded and warmed up on the loader's thread; the streaming thread switches
         * between two frames once it is ready (or warns and keeps the old model). */
        if (!self->state->loader)
          self->state->loader = std::make_unique<differnet::ModelLoader> ();
        self->state->loader->request (differnet::DetectorOptions {path, s.device, s.threads, s.precision, s.flow_precision},
            differnet_filter_warm_request (s), s.share_model);
        s.model = path;
      } else {
        s.model = path;
      }
      break;
    }
    case PROP_DEVICE:{
      std::string d = g_value_get_string (value) ? g_value_get_string (value) : "";
      if (!check_stopped (self, "device"))
        break;
      try {
        differnet::parse_device_name (d);
        s.device = d;
        s.invalid.erase ("device");
      } catch (const differnet::Error & e) {
        rejected = e.what ();
        s.invalid["device"] = rejected;
      }
      break;
    }
    case PROP_THREADS:
      if (check_stopped (self, "threads"))
        s.threads = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      set_name_property (self, "precision", g_value_get_string (value), differnet::check_precision_choice, s.precision,
          rejected);
      break;
    case PROP_FLOW_PRECISION:
      set_name_property (self, "flow-precision", g_value_get_string (value), differnet::check_flow_precision_choice,
          s.flow_precision, rejected);
      break;
    case PROP_FRAMES_IN_FLIGHT:
      if (check_stopped (self, "frames-in-flight"))
        s.frames_in_flight = g_value_get_int (value);
      break;
    case PROP_BATCH_SIZE:
      if (check_stopped (self, "batch-size"))
        s.batch_size = g_value_get_int (value);
      break;
    case PROP_BATCH_TIMEOUT:
      if (check_stopped (self, "batch-timeout"))
        s.batch_timeout_us = g_value_get_uint (value);
      break;
    case PROP_SHARE_MODEL:
      if (check_stopped (self, "share-model"))
        s.share_model = g_value_get_boolean (value);
      break;
    case PROP_WHEN_BUSY:
      if (check_stopped (self, "when-busy"))
        s.when_busy = static_cast<GstDifferNetWhenBusy>(g_value_get_enum (value));
      break;
    case PROP_THRESHOLD:{
      const double t = g_value_get_double (value);
      if (t < 0 && t != -1.0) {  /* -0.5 is a typo, not "the model's" */
        rejected = "threshold " + std::to_string (t) + " is negative: give a score >= 0, or -1 for the model's calibrated threshold";
        s.invalid["threshold"] = rejected;
      } else if (t < 0 && running && !self->state->model_calibrated) {
        rejected = "threshold -1 (the model's) refused: the running model has no calibrated threshold, and without "
            "one every frame would pass as good; the threshold " + std::to_string (s.threshold) + " is kept";
      } else {
        s.threshold = t;
        s.invalid.erase ("threshold");
      }
      break;
    }
    case PROP_TRANSFORMS:
      s.transforms = g_value_get_int (value);
      break;
    case PROP_LOCALIZATION:
      s.localization = static_cast<GstDifferNetLocalization>(g_value_get_enum (value));
      break;
    case PROP_LOCALIZATION_METHOD:{
      const auto m = static_cast<GstDifferNetLocalizationMethod>(g_value_get_enum (value));
      if (m == GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL && running && !self->state->model_local)
        rejected = "localization-method local refused: the running model has no local scorer (train it with "
            "differnet-train --local yes); the method in use is kept";
      else
        s.localization_method = m;
      break;
    }
    case PROP_OVERLAY:
      s.overlay = (GstDifferNetOverlay) g_value_get_enum (value);
      break;
    case PROP_HEATMAP_ALPHA:
      s.heatmap_alpha = g_value_get_double (value);
      break;
    case PROP_INFERENCE_INTERVAL:
      s.inference_interval = g_value_get_int (value);
      break;
    case PROP_ROI:
      differnet_filter_parse_region (self, "roi", g_value_get_string (value), s.roi, rejected);
      break;
    case PROP_TILES:{
      const char *text = g_value_get_string (value);
      const std::string t = text ? text : "";
      try {
        if (!t.empty () && t != "auto")
          differnet::TileGrid::parse (t);
        /* While running, the new tiling must also cut the current frames: else warn, keep the old. */
        const std::string misfit = running ? differnet_filter_tiling_misfit (t, s.tile_overlap, s.roi,
            self->state->width, self->state->height) : "";
        if (!misfit.empty ()) {
          rejected = misfit + "; tiles '" + s.tiles + "' kept";
        } else {
          s.tiles = t;
          s.invalid.erase ("tiles");
        }
      } catch (const differnet::Error & e) {
        rejected = e.what ();
        s.invalid["tiles"] = rejected;
      }
      break;
    }
    case PROP_TILE_OVERLAP:{
      const double o = g_value_get_double (value);
      if (o != -1.0 && !(o >= 0.0 && o <= 0.9)) {
        rejected = "tile-overlap " + std::to_string (o) + " is not a fraction in [0, 0.9] (or -1 for the model's)";
        s.invalid["tile-overlap"] = rejected;
      } else {
        s.tile_overlap = o;
        s.invalid.erase ("tile-overlap");
      }
      break;
    }
    case PROP_POST_MESSAGES:
      s.post_messages = g_value_get_boolean (value);
      break;
    case PROP_MESSAGE_MODE:
      s.message_mode = (GstDifferNetMessageMode) g_value_get_enum (value);
      break;
    case PROP_RESULTS_FILE:
      if (check_stopped (self, "results-file"))
        s.results_file = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_SNAPSHOT_DIR:
      if (check_stopped (self, "snapshot-dir"))
        s.snapshot_dir = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  if (running)                  /* the running value stays: it was valid */
    s.invalid.clear ();
  GST_OBJECT_UNLOCK (self);
  if (rejected.empty ())
    return;
  g_warning ("differnetfilter: %s", rejected.c_str ());
  if (running)                  /* posted after the lock: posting takes it */
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("Invalid property value ignored: %s", rejected.c_str ()),
        ("The element goes on with the value it had."));
}

static void
gst_differnet_filter_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (object);
  GST_OBJECT_LOCK (self);
  const Settings & s = *self->settings;
  const Stats & st = *self->stats;
  if (differnet_filter_get_learn_property (self, prop_id, value))
    prop_id = PROP_0;           /* handled */
  switch (prop_id) {
    case PROP_0:
      break;
    case PROP_MODEL: g_value_set_string (value, s.model.empty () ? NULL : s.model.c_str ()); break;
    case PROP_DEVICE: g_value_set_string (value, s.device.c_str ()); break;
    case PROP_ACTIVE_DEVICE:
      g_value_set_string (value, self->state ? self->state->active_device.c_str () : "");
      break;
    case PROP_ACTIVE_PRECISION:
      g_value_set_string (value, self->state ? self->state->active_precision.c_str () : "");
      break;
    case PROP_ACTIVE_FLOW_PRECISION:
      g_value_set_string (value, self->state ? self->state->active_flow_precision.c_str () : "");
      break;
    case PROP_THREADS: g_value_set_int (value, s.threads); break;
    case PROP_PRECISION: g_value_set_string (value, s.precision.c_str ()); break;
    case PROP_FLOW_PRECISION: g_value_set_string (value, s.flow_precision.c_str ()); break;
    case PROP_FRAMES_IN_FLIGHT: g_value_set_int (value, s.frames_in_flight); break;
    case PROP_WHEN_BUSY: g_value_set_enum (value, s.when_busy); break;
    case PROP_FRAMES_PASSED: g_value_set_uint64 (value, st.passed); break;
    case PROP_SHARE_MODEL: g_value_set_boolean (value, s.share_model); break;
    case PROP_BATCH_SIZE: g_value_set_int (value, s.batch_size); break;
    case PROP_BATCH_TIMEOUT: g_value_set_uint (value, s.batch_timeout_us); break;
    case PROP_MEAN_BATCH_FRAMES:
      g_value_set_double (value, st.scored ? static_cast<double>(st.batch_frames) / st.scored : 0.0);
      break;
    case PROP_MODEL_USERS:
      g_value_set_int (value, self->state ? static_cast<int>(self->state->detector.use_count ()) : 0);
      break;
    case PROP_THRESHOLD: g_value_set_double (value, s.threshold); break;
    case PROP_TRANSFORMS: g_value_set_int (value, s.transforms); break;
    case PROP_LOCALIZATION: g_value_set_enum (value, s.localization); break;
    case PROP_LOCALIZATION_METHOD: g_value_set_enum (value, s.localization_method); break;
    case PROP_OVERLAY: g_value_set_enum (value, s.overlay); break;
    case PROP_HEATMAP_ALPHA: g_value_set_double (value, s.heatmap_alpha); break;
    case PROP_INFERENCE_INTERVAL: g_value_set_int (value, s.inference_interval); break;
    case PROP_ROI: g_value_set_string (value, s.roi.to_string ().c_str ()); break;
    case PROP_TILES: g_value_set_string (value, s.tiles.empty () ? NULL : s.tiles.c_str ()); break;
    case PROP_TILE_OVERLAP: g_value_set_double (value, s.tile_overlap); break;
    case PROP_POST_MESSAGES: g_value_set_boolean (value, s.post_messages); break;
    case PROP_MESSAGE_MODE: g_value_set_enum (value, s.message_mode); break;
    case PROP_RESULTS_FILE: g_value_set_string (value, s.results_file.empty () ? NULL : s.results_file.c_str ()); break;
    case PROP_SNAPSHOT_DIR: g_value_set_string (value, s.snapshot_dir.empty () ? NULL : s.snapshot_dir.c_str ()); break;
    case PROP_FRAMES_SCORED: g_value_set_uint64 (value, st.scored); break;
    case PROP_FRAMES_REUSED: g_value_set_uint64 (value, st.reused); break;
    case PROP_MEAN_INFERENCE_MS: g_value_set_double (value, st.scored ? st.total_ms / st.scored : 0.0); break;
    case PROP_LAST_INFERENCE_MS: g_value_set_double (value, st.last_ms); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Opens the results file and creates the snapshot folder the settings name; FALSE after posting an
 * error. */
static gboolean
open_outputs (GstDifferNetFilter * self, const Settings & s, RunState & state)
{
  if (!s.results_file.empty ()) {
    state.results = g_fopen (s.results_file.c_str (), "w");
    if (!state.results) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, ("Could not open results file '%s'", s.results_file.c_str ()),
          ("%s", g_strerror (errno)));
      return FALSE;
    }
  }
  if (!s.snapshot_dir.empty ()) {
    if (g_mkdir_with_parents (s.snapshot_dir.c_str (), 0755) != 0) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, ("Could not create snapshot folder '%s'", s.snapshot_dir.c_str ()),
          ("%s", g_strerror (errno)));
      return FALSE;
    }
    state.snapshots.dir = s.snapshot_dir;
  }
  return TRUE;
}

/* READY -> PAUSED: load and warm up the model, open the outputs. */
static gboolean
gst_differnet_filter_start (GstBaseTransform * trans)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (trans);
  GST_OBJECT_LOCK (self);
  Settings s = *self->settings;
  *self->stats = Stats ();
  GST_OBJECT_UNLOCK (self);

  if (!s.invalid.empty ()) {
    std::string why;
    for (const auto &[name, reason] : s.invalid)
      why += (why.empty () ? "" : "; ") + name + ": " + reason;
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid property value: %s", why.c_str ()),
        ("Fix the value; the element does not run on a default in place of what was asked."));
    return FALSE;
  }
  const bool learn = s.mode == GST_DIFFERNET_MODE_LEARN;
  if (s.model.empty () && !(learn && !s.learn_output.empty ())) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model file set"),
        ("Set the 'model' property to a DifferNet model file (differnet-train writes one), or to the file to "
         "write with mode=learn."));
    return FALSE;
  }
  auto state = std::make_unique<RunState> ();
  state->batch.max_frames = s.batch_size;
  state->batch.timeout = std::chrono::microseconds (s.batch_timeout_us);
  /* The outputs the user configured are opened whatever path the model arrives by (loaded here, or
   * learnt later in learn mode), so that a bad path fails at start, not after the learning. */
  if (!open_outputs (self, s, *state))
    return FALSE;
  /* Learn mode needs no model yet: frames pass unscored until the learnt one takes over. */
  if (learn && (s.model.empty () || !g_file_test (s.model.c_str (), G_FILE_TEST_EXISTS))) {
    if (!differnet_filter_learn_start (self, s, *state))
      return FALSE;
    GST_INFO_OBJECT (self, "learn mode without a model: frames pass unscored until the learnt model takes over");
    GST_OBJECT_LOCK (self);
    self->state = state.release ();
    GST_OBJECT_UNLOCK (self);
    return TRUE;
  }
  try {
    const differnet::DetectorOptions options { s.model, s.device, s.threads, s.precision, s.flow_precision};
    state->detector = s.share_model ? differnet::ModelCache::acquire (options)
        : std::make_shared<differnet::Detector> (options);
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load DifferNet model '%s'", s.model.c_str ()),
        ("%s", differnet::without_backtrace (e.what ()).c_str ()));
    return FALSE;
  }
  try {
    state->detector->warm_up (differnet_filter_warm_request (s));
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Could not score a first frame with transforms=%d%s", s.transforms,
            s.localization != GST_DIFFERNET_LOCALIZATION_OFF ? " and localization" : ""), ("%s (fewer transforms need less memory)",
            differnet::without_backtrace (e.what ()).c_str ()));
    return FALSE;
  }
  const differnet::ModelSummary & m = state->detector->summary ();
  if (!m.calibrated && s.threshold < 0) {
    /* A detector fails closed: with no threshold every frame would pass as good, silently. */
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Model '%s' has no calibrated threshold", s.model.c_str ()),
        ("%s", differnet_filter_uncalibrated_hint ().c_str ()));
    return FALSE;
  }
  if (s.localization_method == GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL && !m.local_scorer) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Model '%s' has no local scorer, and localization-method is local",
            s.model.c_str ()), ("Train the model with differnet-train --local yes, or set localization-method=auto "
            "(the gradient map for such models) or gradient"));
    return FALSE;
  }
  if (m.calibrated && s.threshold < 0 && m.calibrated_transforms > 0 && m.calibrated_transforms != s.transforms)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("Model '%s' was calibrated at transforms=%d, the element scores at "
            "transforms=%d", s.model.c_str (), m.calibrated_transforms, s.transforms),
        ("Scores at different T are not on the same scale, so the model's threshold may miss defects or raise "
         "false alarms. Set transforms=%d, or recalibrate: differnet-calibrate --transforms %d MODEL GOOD_IMAGES",
         m.calibrated_transforms, s.transforms));
  state->queue = std::make_unique<differnet::ScoringQueue> (*state->detector, state->batch);
  state->frames_in_flight = s.when_busy == GST_DIFFERNET_WHEN_BUSY_PASS ? 1 : s.frames_in_flight;
  if (s.when_busy == GST_DIFFERNET_WHEN_BUSY_PASS)
    state->background = std::make_unique<differnet::ScoringQueue> (*state->detector, state->batch);
  state->model_id = m.model_id;
  state->model_calibrated = m.calibrated;
  state->model_local = m.local_scorer;
  state->pixel_threshold = m.pixel_threshold;
  state->model_path = s.model;
  state->active_device = m.device;
  state->active_precision = m.precision;
  state->active_flow_precision = m.flow_precision;
  if (learn && !differnet_filter_learn_start (self, s, *state))
    return FALSE;
  GST_INFO_OBJECT (self, "model %s (id %s, backbone %s, input %d px) on %s, %d frame(s) in flight; backbone %s, "
      "flow %s, threshold of %s (%s); image score %s", s.model.c_str (), m.model_id.c_str (), m.backbone.c_str (),
      m.input_size, m.device.c_str (), s.frames_in_flight, m.precision.c_str (), m.flow_precision.c_str (),
      m.threshold_arithmetic.c_str (), m.precision_note.c_str (), m.image_score.c_str ());
  GST_OBJECT_LOCK (self);
  self->state = state.release ();
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_differnet_filter_stop (GstBaseTransform * trans)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (trans);
  GST_OBJECT_LOCK (self);
  RunState *state = self->state;
  self->state = NULL;
  GST_OBJECT_UNLOCK (self);
  delete state;  // closes the results file, frees the model
  return TRUE;
}

/* Caps are (re)negotiated: a new size keeps the loaded model. */
static gboolean
gst_differnet_filter_set_info (GstVideoFilter * filter, GstCaps * incaps, GstVideoInfo * in_info,
    GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (filter);
  (void) incaps;
  (void) outcaps;
  (void) out_info;
  GST_OBJECT_LOCK (self);
  const differnet::Region roi = self->settings->roi, learn_roi = self->settings->learn_roi;
  GST_OBJECT_UNLOCK (self);
  const int width = GST_VIDEO_INFO_WIDTH (in_info), height = GST_VIDEO_INFO_HEIGHT (in_info);
  for (const auto &[name, r] : { std::make_pair ("roi", roi), std::make_pair ("learn-roi", learn_roi)}) {
    if (!region_fits (r, width, height)) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s %s does not lie inside the %dx%d frame", name,
              r.to_string ().c_str (), width, height), (NULL));
      return FALSE;
    }
  }
  if (self->state) {
    /* The tiling must cut the new frames too (tiles set, or the model's): else the region is scored
     * whole, with a warning, rather than an error on the first frame. */
    GST_OBJECT_LOCK (self);
    Settings & s = *self->settings;
    const std::string tiles = s.tiles.empty () && self->state->detector ? self->state->detector->summary ().tiles : s.tiles;
    const double overlap = s.tile_overlap >= 0 || !self->state->detector ? s.tile_overlap
        : self->state->detector->summary ().tile_overlap;
    const std::string misfit = differnet_filter_tiling_misfit (tiles, overlap, roi, width, height);
    if (!misfit.empty ())
      s.tiles = "1x1";
    self->state->width = width;
    self->state->height = height;
    GST_OBJECT_UNLOCK (self);
    if (!misfit.empty ())
      GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("Tiling '%s' does not fit the new frames; scoring them whole (tiles=1x1)",
              tiles.c_str ()), ("%s. Set 'tiles' to a grid whose tiles are at least 8x8 pixels.", misfit.c_str ()));
    self->state->format = pixel_format (GST_VIDEO_INFO_FORMAT (in_info));
    self->state->last.reset ();  // a result for the old size must not be reused (or drawn) on the new one
    self->state->scored_any = false;  // (the queue is empty here: sink_event drained it before the caps)
  }
  GST_DEBUG_OBJECT (self, "negotiated %s %dx%d", gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (in_info)), width,
      height);
  return TRUE;
}

/* Fills a scored job's request from the settings and copies the region's pixels of `buffer` onto
 * the model's device; FALSE after posting an error. */
static gboolean
prepare_scoring (GstDifferNetFilter * self, differnet::FrameJob & job, GstBuffer * buffer, const Settings & s)
{
  RunState & st = *self->state;
  job.request.transforms = s.transforms;
  job.request.localize = s.localization == GST_DIFFERNET_LOCALIZATION_ON;
  job.request.localize_on_anomaly = s.localization == GST_DIFFERNET_LOCALIZATION_ON_ANOMALY;
  job.request.localization = s.localization_method == GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL ?
      differnet::Localization::Local : s.localization_method == GST_DIFFERNET_LOCALIZATION_METHOD_GRADIENT ?
      differnet::Localization::Gradient : differnet::Localization::Auto;
  job.request.region = s.roi;
  job.request.threshold = s.threshold;
  job.request.heatmap_size = std::max (1, st.detector->summary ().input_size / 4);
  job.request.tiles = s.tiles;
  job.request.tile_overlap = s.tile_overlap;
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &GST_VIDEO_FILTER (self)->in_info, buffer, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map frame %" G_GUINT64_FORMAT, job.number),
        ("The buffer is smaller than the negotiated caps say (%" G_GSIZE_FORMAT " bytes)",
            gst_buffer_get_size (buffer)));
    return FALSE;
  }
  const differnet::FrameView view = differnet_filter_frame_view (&frame, st.format);
  try {
    job.upload = st.detector->upload (view, job.request);
    job.region = job.upload.region ();
  } catch (const std::exception & e) {
    gst_video_frame_unmap (&frame);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("DifferNet inference failed on frame %" G_GUINT64_FORMAT, job.number),
        ("%s", differnet::without_backtrace (e.what ()).c_str ()));
    return FALSE;
  }
  gst_video_frame_unmap (&frame);
  st.scored_any = true;
  return TRUE;
}

/* when-busy=pass: a result the background scorer finished becomes the last result, carried by
 * the frames that follow; FALSE after posting an error. */
static gboolean
harvest_background (GstDifferNetFilter * self)
{
  RunState & st = *self->state;
  if (st.background->size () == 0 || !st.background->oldest_done ())
    return TRUE;
  std::unique_ptr<differnet::FrameJob> done = st.background->pop_oldest ();
  if (!done->error.empty ()) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("DifferNet inference failed on frame %" G_GUINT64_FORMAT, done->number),
        ("%s", differnet::without_backtrace (done->error).c_str ()));
    return FALSE;
  }
  differnet_filter_keep_result (self, *done);
  return TRUE;
}

static GstFlowReturn
gst_differnet_filter_submit_input_buffer (GstBaseTransform * trans, gboolean is_discont, GstBuffer * input)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (trans);
  /* The base class renegotiates when asked to and parks the buffer in queued_buf; we take it. */
  GstFlowReturn ret = GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer (trans, is_discont, input);
  if (ret != GST_FLOW_OK || trans->queued_buf == NULL)
    return ret;
  RunState & st = *self->state;
  if (st.loader) {
    std::optional<differnet::ModelLoader::Result> swap = st.loader->take ();
    if (swap) {
      ret = differnet_filter_switch_model (self, std::move (*swap));
      if (ret != GST_FLOW_OK) {
        gst_buffer_unref (trans->queued_buf);
        trans->queued_buf = NULL;
        return ret;
      }
    }
  }
  /* The settings, once per frame: for learn mode and for scoring. */
  GST_OBJECT_LOCK (self);
  const Settings s = *self->settings;
  GST_OBJECT_UNLOCK (self);
  ret = differnet_filter_learn_step (self, trans->queued_buf, s);
  if (ret != GST_FLOW_OK || !st.detector) {
    /* No model yet (learn mode): the frame leaves as it came, but for the learning banner. */
    GstBuffer *buf = trans->queued_buf;
    trans->queued_buf = NULL;
    st.frame++;
    if (ret != GST_FLOW_OK) {
      gst_buffer_unref (buf);
      return ret;
    }
    st.passthrough = differnet_filter_learn_draw (self, buf);
    return GST_FLOW_OK;
  }
  auto job = std::make_unique<differnet::FrameJob> ();
  job->buffer = trans->queued_buf;
  trans->queued_buf = NULL;
  job->number = st.frame++;
  const bool due = job->number % static_cast<guint64>(s.inference_interval) == 0;
  job->score = !st.scored_any || due;

  /* when-busy=pass: after the first result, no frame waits for the scorer. A frame due for scoring
   * is copied to the background scorer when it is idle; every frame leaves with the last result. */
  if (st.background && st.scored_any) {
    if (!harvest_background (self))
      return GST_FLOW_ERROR;
    if (due && st.background->size () == 0) {
      auto background = std::make_unique<differnet::FrameJob> ();
      background->number = job->number;
      background->score = true;
      if (!prepare_scoring (self, *background, job->buffer, s))
        return GST_FLOW_ERROR;
      st.background->push (std::move (background));
    } else if (due) {
      GST_OBJECT_LOCK (self);
      self->stats->passed++;
      GST_OBJECT_UNLOCK (self);
    }
    job->score = false;
  }
  if (job->score && !prepare_scoring (self, *job, job->buffer, s))
    return GST_FLOW_ERROR;
  st.queue->push (std::move (job));
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_differnet_filter_generate_output (GstBaseTransform * trans, GstBuffer ** outbuf)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (trans);
  RunState & st = *self->state;
  *outbuf = NULL;
  if (st.passthrough) {
    *outbuf = st.passthrough;
    st.passthrough = NULL;
    return GST_FLOW_OK;
  }
  /* Send the oldest frame on when it is done, or wait for it when the queue is full. */
  if (!st.queue || st.queue->size () == 0
      || (st.queue->size () < static_cast<size_t>(st.frames_in_flight) && !st.queue->oldest_done ()))
    return GST_FLOW_OK;
  *outbuf = differnet_filter_finish_frame (self, st.queue->pop_oldest ());
  if (*outbuf && st.learner)
    *outbuf = differnet_filter_learn_draw (self, *outbuf);
  return *outbuf ? GST_FLOW_OK : GST_FLOW_ERROR;
}

/* Sends every held frame on, in order (before EOS, caps, segments and other serialized events,
 * which must not overtake them). */
GstFlowReturn
differnet_filter_drain (GstDifferNetFilter * self)
{
  GstFlowReturn ret = GST_FLOW_OK;
  while (self->state && self->state->queue && self->state->queue->size () > 0) {
    GstBuffer *buf = differnet_filter_finish_frame (self, self->state->queue->pop_oldest ());
    if (buf == NULL)
      return GST_FLOW_ERROR;
    if (self->state->learner)
      buf = differnet_filter_learn_draw (self, buf);
    if (ret == GST_FLOW_OK)
      ret = gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
    else
      gst_buffer_unref (buf);
  }
  return ret;
}

static gboolean
gst_differnet_filter_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (trans);
  if (self->state) {
    if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
      /* A flush (seek) starts a new sequence: held frames are dropped, nothing from before it is
       * reused or compared against. */
      if (self->state->queue)
        self->state->queue->clear ();
      if (self->state->background)
        self->state->background->clear ();
      self->state->last.reset ();
      self->state->scored_any = false;
      self->state->last_verdict = -1;
    } else if (GST_EVENT_IS_SERIALIZED (event)) {
      if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
        differnet_filter_learn_eos (self);    /* trains on what was collected before EOS goes on */
      GstFlowReturn ret = differnet_filter_drain (self);
      if (ret != GST_FLOW_OK)
        GST_DEBUG_OBJECT (self, "draining before %s: %s", GST_EVENT_TYPE_NAME (event), gst_flow_get_name (ret));
    }
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* Frames held in flight delay the stream by up to frames-in-flight - 1 frame durations, and a frame
 * waiting for its batch to fill by up to batch-timeout: say so in the latency query, so that live
 * sinks wait for them instead of dropping them as late. */
static gboolean
gst_differnet_filter_query (GstBaseTransform * trans, GstPadDirection direction, GstQuery * query)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (trans);
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query))
    return FALSE;
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GST_OBJECT_LOCK (self);
    const bool pass = self->settings->when_busy == GST_DIFFERNET_WHEN_BUSY_PASS;
    const int held = pass ? 0 : self->settings->frames_in_flight - 1;
    /* In pass mode no frame waits for the scorer, so neither for a batch. */
    const GstClockTime batch_wait = !pass && self->settings->batch_size > 1 ?
        self->settings->batch_timeout_us * GST_USECOND : 0;
    GST_OBJECT_UNLOCK (self);
    const GstVideoInfo *info = &GST_VIDEO_FILTER (self)->in_info;
    GstClockTime extra = batch_wait;
    if (held > 0 && GST_VIDEO_INFO_FPS_N (info) > 0)
      extra += gst_util_uint64_scale (held * GST_SECOND, GST_VIDEO_INFO_FPS_D (info), GST_VIDEO_INFO_FPS_N (info));
    if (extra > 0) {
      gboolean live;
      GstClockTime min, max;
      gst_query_parse_latency (query, &live, &min, &max);
      gst_query_set_latency (query, live, min + extra, GST_CLOCK_TIME_IS_VALID (max) ? max + extra : max);
    }
  }
  return TRUE;
}

static void
gst_differnet_filter_finalize (GObject * object)
{
  GstDifferNetFilter *self = GST_DIFFERNET_FILTER (object);
  delete self->state;
  delete self->stats;
  delete self->settings;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_differnet_filter_class_init (GstDifferNetFilterClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags ready = (GParamFlags) (rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags playing = (GParamFlags) (rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags ro = (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  gobject_class->set_property = gst_differnet_filter_set_property;
  gobject_class->get_property = gst_differnet_filter_get_property;
  gobject_class->finalize = gst_differnet_filter_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Path of the DifferNet model file to load (written by differnet-train). Required; with mode=learn the "
          "file to write (it need not exist yet; see learn-output). Set while running "
          "(even to the same path: a retrained file), the new model is loaded and warmed up in the background "
          "and takes over between two frames (a \"model-changed\" element message; model_id in meta and "
          "messages changes there); a model that cannot be loaded is a warning and the old one keeps running",
          NULL, playing));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "Where to run: auto (CUDA when available, else CPU), cpu, cuda or cuda:N. Asking for CUDA "
          "where there is none is an error, never a silent CPU fallback; an unknown name is an error at start",
          DEFAULT_PROP_DEVICE, ready));
  g_object_class_install_property (gobject_class, PROP_ACTIVE_DEVICE,
      g_param_spec_string ("active-device", "Active device",
          "The device the model runs on (cpu, cuda:0, ...); empty while stopped", "", ro));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "CPU threads for inference, 0 = one per core",
          0, 1024, DEFAULT_PROP_THREADS, ready));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_string ("precision", "Precision",
          "Arithmetic of the backbone CNN: auto, fp32, fp16 (CUDA only: the GPU's half-precision units), bf16 or "
          "int8 (CPU, AlexNet models: weights per channel, activations over ranges measured at calibration). "
          "auto: fp16 on CUDA, int8 for AlexNet on a CPU with VNNI, bf16 on a CPU with AMX, else fp32, kept only "
          "where the model holds a threshold "
          "computed in it (differnet-info lists them; active-precision says what runs). The score stays fp32; "
          "fp32 also turns TF32 off on CUDA, so that scores agree with the CPU", DEFAULT_PROP_PRECISION, ready));
  g_object_class_install_property (gobject_class, PROP_FLOW_PRECISION,
      g_param_spec_string ("flow-precision", "Flow precision",
          "Arithmetic of the flow's linear layers: auto, fp32 (the method), bf16 or int8 (CPU only: weights "
          "quantized per channel). auto: int8 on a CPU with VNNI, else fp32, kept only where the model holds a "
          "threshold computed in it (active-flow-precision says what runs). The coupling, the clamp and the score "
          "stay fp32; with int8 the gradient map uses the fp32 weights", DEFAULT_PROP_FLOW_PRECISION, ready));
  g_object_class_install_property (gobject_class, PROP_ACTIVE_PRECISION,
      g_param_spec_string ("active-precision", "Active precision",
          "The backbone's arithmetic in use (precision resolved); empty while stopped", "", ro));
  g_object_class_install_property (gobject_class, PROP_ACTIVE_FLOW_PRECISION,
      g_param_spec_string ("active-flow-precision", "Active flow precision",
          "The flow's arithmetic in use (flow-precision resolved); empty while stopped", "", ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_IN_FLIGHT,
      g_param_spec_int ("frames-in-flight", "Frames in flight",
          "Frames held at once. 1: each frame leaves before the next is taken. N > 1: frame N+1 is scored "
          "while the frames before it are drawn and pushed on (pays where scoring leaves the streaming thread's core "
          "free, as on a GPU; on the CPU alone the two compete); "
          "adds up to N-1 frame durations of latency, which the latency query reports",
          1, 16, DEFAULT_PROP_FRAMES_IN_FLIGHT, ready));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
          "Score at or above which a frame is anomalous; -1 = the model's calibrated threshold. Another "
          "negative value is invalid: an error at start, a warning (old value kept) while playing",
          -1.0, G_MAXDOUBLE, DEFAULT_PROP_THRESHOLD, playing));
  g_object_class_install_property (gobject_class, PROP_TRANSFORMS,
      g_param_spec_int ("transforms", "Transforms",
          "Test-time rotations T (angles 360*i/T) averaged into the score: more is steadier and T times slower",
          1, 1024, DEFAULT_PROP_TRANSFORMS, playing));
  g_object_class_install_property (gobject_class, PROP_LOCALIZATION,
      g_param_spec_enum ("localization", "Localization",
          "When to compute the heatmap: on (every scored frame), off, or on-anomaly (only frames judged "
          "anomalous). With the gradient method (localization-method) the heatmap is a second pass as costly "
          "as the scoring, so on-anomaly makes good frames cost half; the local map comes with the score and "
          "costs little. true and false are accepted for on and off",
          gst_differnet_localization_get_type (), DEFAULT_PROP_LOCALIZATION, playing));
  g_object_class_install_property (gobject_class, PROP_LOCALIZATION_METHOD,
      g_param_spec_enum ("localization-method", "Localization method",
          "How the heatmap is made: local (the model's local scorer, per-cell scores of the feature maps from "
          "the same forward pass: sharp, nearly free), gradient (the gradient of the score with respect to the "
          "frame, DifferNet's own; a backward pass), or auto (local when the model has a local scorer, else "
          "gradient). local with a model that has no local scorer is refused (at start: an error; while "
          "PLAYING: a warning, the method in use kept)",
          gst_differnet_localization_method_get_type (), DEFAULT_PROP_LOCALIZATION_METHOD, playing));
  g_object_class_install_property (gobject_class, PROP_OVERLAY,
      g_param_spec_enum ("overlay", "Overlay", "What to draw on the frames; none leaves every pixel unchanged",
          gst_differnet_overlay_get_type (), DEFAULT_PROP_OVERLAY, playing));
  g_object_class_install_property (gobject_class, PROP_HEATMAP_ALPHA,
      g_param_spec_double ("heatmap-alpha", "Heatmap alpha", "Opacity of the heatmap over an anomalous frame (scaled down by score/threshold on good frames)",
          0.0, 1.0, DEFAULT_PROP_HEATMAP_ALPHA, playing));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_int ("inference-interval", "Inference interval",
          "Score every Nth frame; the frames between carry the last result, marked reused",
          1, G_MAXINT, DEFAULT_PROP_INFERENCE_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_ROI,
      g_param_spec_string ("roi", "Region of interest",
          "Region to score, \"x,y,width,height\" in pixels; empty = the whole frame. A value that does not "
          "parse or does not fit the frame is an error at start, a warning (old region kept) while playing",
          "", playing));
  g_object_class_install_property (gobject_class, PROP_TILES,
      g_param_spec_string ("tiles", "Tiles",
          "Tiled scoring of wide frames (line-scan strips): the region cut into \"COLSxROWS\" tiles (e.g. "
          "\"16x1\"), each scored as an image of its own in one batch, the frame's score the largest tile score "
          "(meta and results add worst_tile and tile_scores); \"auto\" = square tiles of the region's short "
          "side, at most twice the model's input; \"1x1\" = no tiling; empty = the tiling the model was "
          "trained with (differnet-info shows it)", "", playing));
  g_object_class_install_property (gobject_class, PROP_TILE_OVERLAP,
      g_param_spec_double ("tile-overlap", "Tile overlap",
          "Fraction of a tile's side shared with its neighbour (0..0.9); -1 = the model's", -1.0, 0.9, -1.0, playing));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a \"differnet\" element message on the bus with each result", DEFAULT_PROP_POST_MESSAGES, playing));
  g_object_class_install_property (gobject_class, PROP_MESSAGE_MODE,
      g_param_spec_enum ("message-mode", "Message mode", "When to post messages",
          gst_differnet_message_mode_get_type (), DEFAULT_PROP_MESSAGE_MODE, playing));
  g_object_class_install_property (gobject_class, PROP_RESULTS_FILE,
      g_param_spec_string ("results-file", "Results file",
          "Write one JSON object per frame to this file (JSON lines: pts_ns, frame, score, threshold, anomaly, "
          "reused, inference_ms, model_id); truncated at start", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_SNAPSHOT_DIR,
      g_param_spec_string ("snapshot-dir", "Snapshot folder",
          "Save each frame judged anomalous, with its overlay, as frame-NNNNNNNN.png in this folder", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_FRAMES_SCORED,
      g_param_spec_uint64 ("frames-scored", "Frames scored", "Frames scored since start", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_WHEN_BUSY,
      g_param_spec_enum ("when-busy", "When busy", "What a frame due for scoring does while the scorer is busy: "
          "wait (for its own score: every scored frame carries its own result, a slow scorer slows the stream) or "
          "pass (never wait: the frame goes on at once with the last result, marked reused, and is scored only "
          "if the scorer is idle; for live cameras that must not drop frames). In pass mode only the first frame "
          "after a start or a flush waits for its score, frames-in-flight is 1 and adds no latency",
          gst_differnet_when_busy_get_type (), GST_DIFFERNET_WHEN_BUSY_WAIT, ready));
  g_object_class_install_property (gobject_class, PROP_SHARE_MODEL,
      g_param_spec_boolean ("share-model", "Share model", "Share the loaded model with the other elements of the "
          "process that name the same model file, device, precisions and threads (loaded once, scoring one frame "
          "at a time); false: this element loads a copy of its own", TRUE, ready));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_int ("batch-size", "Batch size", "Cross-stream batching, as nvinfer's batch-size: frames of "
          "the elements sharing this model (share-model) and frames held by this one (frames-in-flight) are "
          "scored together, up to this many in one backbone and one flow pass; each frame still leaves its own "
          "element in order with its own meta. 1 = every frame scored as it comes, never waiting for others",
          1, 64, DEFAULT_PROP_BATCH_SIZE, ready));
  g_object_class_install_property (gobject_class, PROP_BATCH_TIMEOUT,
      g_param_spec_uint ("batch-timeout", "Batch timeout", "With batch-size > 1: the longest a frame waits, in "
          "microseconds, for other frames to fill its batch before the batch is scored as it is (as "
          "nvstreammux's batched-push-timeout); adds up to this much latency", 0, 10000000,
          DEFAULT_PROP_BATCH_TIMEOUT, ready));
  g_object_class_install_property (gobject_class, PROP_MEAN_BATCH_FRAMES,
      g_param_spec_double ("mean-batch-frames", "Mean batch frames", "Mean number of frames scored in one pass "
          "with each of this element's scored frames (1 = none batched), since start", 0.0, 64.0, 0.0, ro));
  g_object_class_install_property (gobject_class, PROP_MODEL_USERS,
      g_param_spec_int ("model-users", "Model users", "Elements in this process that share the loaded model "
          "(those naming the same model file, device, precisions and threads load it once); 0 while stopped",
          0, G_MAXINT, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_PASSED,
      g_param_spec_uint64 ("frames-passed", "Frames passed", "when-busy=pass: frames due for scoring that went on "
          "with an earlier result because the scorer was busy, since start", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_REUSED,
      g_param_spec_uint64 ("frames-reused", "Frames reused",
          "Frames that carried an earlier result since start (inference-interval)", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_MEAN_INFERENCE_MS,
      g_param_spec_double ("mean-inference-ms", "Mean inference time", "Mean time to score a frame, in ms",
          0.0, G_MAXDOUBLE, 0.0, ro));
  g_object_class_install_property (gobject_class, PROP_LAST_INFERENCE_MS,
      g_param_spec_double ("last-inference-ms", "Last inference time", "Time the last scored frame took, in ms",
          0.0, G_MAXDOUBLE, 0.0, ro));

  differnet_filter_install_learn_api (gobject_class);

  GstCaps *caps = gst_caps_from_string (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS));
  gst_element_class_add_pad_template (element_class, gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template (element_class, gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);
  gst_element_class_set_static_metadata (element_class, "DifferNet defect detector", "Filter/Analyzer/Video",
      "Scores each frame for anomalies with a DifferNet model: score as buffer metadata and bus messages, "
      "optional heatmap overlay", "gst-differnet authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_differnet_filter_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_differnet_filter_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_differnet_filter_sink_event);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_differnet_filter_set_info);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_differnet_filter_submit_input_buffer);
  trans_class->generate_output = GST_DEBUG_FUNCPTR (gst_differnet_filter_generate_output);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_differnet_filter_query);

  gst_type_mark_as_plugin_api (gst_differnet_overlay_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_differnet_message_mode_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_differnet_localization_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_differnet_localization_method_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_differnet_when_busy_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_differnet_mode_get_type (), (GstPluginAPIFlags) 0);
  GST_DEBUG_CATEGORY_INIT (gst_differnet_filter_debug, "differnetfilter", 0, "DifferNet defect detector");
}

static void
gst_differnet_filter_init (GstDifferNetFilter * self)
{
  self->settings = new Settings ();
  self->stats = new Stats ();
  self->state = NULL;
  /* Every frame must leave with its result: never let QoS drop late frames here. */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
