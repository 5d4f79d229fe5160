/* differnetfilter's learn mode: with mode=learn the element keeps every learn-interval-th
 * frame's region (learn-roi, else roi) until it has learn-frames of them, trains a model on them on
 * a thread of its own with differnet-train's code (learn-preset, learn-settings), calibrates it on
 * frames held out, writes it atomically to learn-output (else model) and switches to it between
 * two frames, as in a live model swap, setting mode back to inspect. Progress goes to the bus as
 * "differnet-learn" element messages. Everything here runs on the streaming thread but the
 * property accessors (under the object lock) and the finish-learning action signal. */
#include <gst/gst.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "error.h"
#include "gstdiffernetfilter_private.h"
#include "overlay.h"

#define GST_CAT_DEFAULT gst_differnet_filter_debug

namespace {

void
finish_learning (GstDifferNetFilter * self)
{
  GST_OBJECT_LOCK (self);
  self->settings->finish_requests++;
  GST_OBJECT_UNLOCK (self);
}

/* A "differnet-learn" element message with the run's progress; `phase` overrides the status's. */
void
post_learn (GstDifferNetFilter * self, const differnet::LearnStatus & status, const char *phase = NULL,
    const std::string & detail = "")
{
  GstStructure *s = gst_structure_new ("differnet-learn",
      "phase", G_TYPE_STRING, phase ? phase : differnet::learn_phase_name (status.phase),
      "frames-collected", G_TYPE_INT, status.collected,
      "frames-wanted", G_TYPE_INT, status.wanted,
      "frames-skipped", G_TYPE_INT, status.skipped,
      "epoch", G_TYPE_INT, status.epoch,
      "epochs", G_TYPE_INT, status.epochs,
      "loss", G_TYPE_DOUBLE, status.loss,
      "elapsed", G_TYPE_DOUBLE, status.elapsed_s,
      "time-left", G_TYPE_DOUBLE, status.remaining_s, NULL);
  if (status.phase != differnet::LearnPhase::Collecting)
    gst_structure_set (s, "train-frames", G_TYPE_INT, status.train_frames, "holdout-frames", G_TYPE_INT,
        status.holdout_frames, "features", G_TYPE_INT, status.features_done, "features-total", G_TYPE_INT,
        status.features_total, NULL);
  if (phase && std::string (phase) == "first-model")
    gst_structure_set (s, "model-id", G_TYPE_STRING, status.first_model_id.c_str (), "threshold", G_TYPE_DOUBLE,
        status.first_threshold, "first-model-time", G_TYPE_DOUBLE, status.first_model_s, NULL);
  else if (status.phase == differnet::LearnPhase::Done)
    gst_structure_set (s, "model-id", G_TYPE_STRING, status.model_id.c_str (), "threshold", G_TYPE_DOUBLE,
        status.threshold, "stopped-early", G_TYPE_BOOLEAN, status.stopped_early, NULL);
  if (!detail.empty ())
    gst_structure_set (s, "detail", G_TYPE_STRING, detail.c_str (), NULL);
  if (self->state && self->state->learner)
    gst_structure_set (s, "model", G_TYPE_STRING, self->state->learner->options ().output.c_str (), NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

differnet::LearnOptions
learn_options (const Settings & s)
{
  differnet::LearnOptions o;
  o.output = s.learn_output.empty ()? s.model : s.learn_output;
  o.frames = s.learn_frames;
  o.preset = s.learn_preset;
  o.settings = s.learn_settings;
  o.device = s.device;
  o.threads = s.threads;
  o.min_difference = s.learn_min_difference;
  return o;
}

/* The run is over (done, failed, abandoned or too few frames): mode goes back to inspect. */
void
end_run (GstDifferNetFilter * self, const std::string & new_model = "")
{
  self->state->learner.reset ();
  GST_OBJECT_LOCK (self);
  self->settings->mode = GST_DIFFERNET_MODE_INSPECT;
  if (!new_model.empty ())
    self->settings->model = new_model;
  GST_OBJECT_UNLOCK (self);
  g_object_notify (G_OBJECT (self), "mode");
  if (!new_model.empty ())
    g_object_notify (G_OBJECT (self), "model");
}

/* A run that ended without a model, where none inspects the frames: fail closed. */
GstFlowReturn
no_model_left (GstDifferNetFilter * self, const char *why)
{
  if (self->state->detector || self->state->loader)
    return GST_FLOW_OK;
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Learning ended without a model (%s), and there is no model to inspect "
          "with", why), ("Set mode=learn again, or set model to a trained model file."));
  return GST_FLOW_ERROR;
}

/* Starts training on what was collected; with too few frames, a warning (and, at EOS, the end of
 * the run). Returns FALSE when the run ended here. */
gboolean
start_training (GstDifferNetFilter * self, bool at_eos)
{
  RunState & st = *self->state;
  try {
    st.learner->train ();
  } catch (const differnet::Error & e) {
    const differnet::LearnStatus status = st.learner->status ();
    post_learn (self, status, "too-few", e.what ());
    if (!at_eos) {
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Cannot train yet: %s", e.what ()),
          ("Learning goes on collecting frames."));
      return TRUE;
    }
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Learning ended with the stream after %d of %d frames: %s",
            status.collected, status.wanted, e.what ()), ("No model was written."));
    end_run (self);
    return FALSE;
  }
  const differnet::LearnStatus status = st.learner->status ();
  GST_INFO_OBJECT (self, "training on %d collected frames (%d skipped as near-duplicates)", status.collected,
      status.skipped);
  post_learn (self, status);
  const std::string variety = st.learner->variety_warning ();
  if (!variety.empty ())
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("%s", variety.c_str ()),
        ("Training goes on with these frames; check the model on good and defective parts."));
  return TRUE;
}

/* Loads the learnt model at `path` in the background; it takes over as in a live model swap. */
void
request_learnt_model (GstDifferNetFilter * self, const std::string & path)
{
  RunState & st = *self->state;
  GST_OBJECT_LOCK (self);
  const Settings s = *self->settings;
  GST_OBJECT_UNLOCK (self);
  if (!st.loader)
    st.loader = std::make_unique<differnet::ModelLoader> ();
  st.loader->request (differnet::DetectorOptions {path, s.device, s.threads, s.precision, s.flow_precision},
      differnet_filter_warm_request (s), s.share_model);
}

/* Posts training progress; a finished run is handed over (done: the model loads in the background
 * and takes over as in a live model swap, unless the stream ends) or reported (failed). */
GstFlowReturn
poll_training (GstDifferNetFilter * self, bool at_eos)
{
  RunState & st = *self->state;
  const differnet::LearnStatus status = st.learner->status ();
  switch (status.phase) {
    case differnet::LearnPhase::Collecting:
      return GST_FLOW_OK;
    case differnet::LearnPhase::Training:
    case differnet::LearnPhase::Calibrating:
    case differnet::LearnPhase::Writing:
      /* the first model (the pooled Gaussian's, seconds after collection): it takes over at once, as
       * in a live model swap, and inspects while the flow trains */
      if (!status.first_model_id.empty () && status.first_model_id != st.learn_first_taken) {
        st.learn_first_taken = status.first_model_id;
        post_learn (self, status, "first-model");
        GST_INFO_OBJECT (self, "first model %s (%s, the pooled Gaussian) %.1f s after training started",
            st.learner->options ().output.c_str (), status.first_model_id.c_str (), status.first_model_s);
        if (!at_eos)
          request_learnt_model (self, st.learner->options ().output);
      }
      /* once per epoch, and per tenth of the feature cache before the first epoch */
      if (status.epoch != st.learn_posted_epoch || (status.epoch == 0 && status.features_total > 0 &&
              status.features_done * 10 / status.features_total != st.learn_posted_features)) {
        st.learn_posted_epoch = status.epoch;
        st.learn_posted_features = status.features_total > 0 ? status.features_done * 10 / status.features_total : -1;
        post_learn (self, status);
      }
      return GST_FLOW_OK;
    case differnet::LearnPhase::Done:{
      const std::string path = st.learner->options ().output;
      /* a first model that training overtook between two frames: said, not loaded */
      if (!status.first_model_id.empty () && status.first_model_id != st.learn_first_taken) {
        st.learn_first_taken = status.first_model_id;
        post_learn (self, status, "first-model");
      }
      post_learn (self, status);
      GST_INFO_OBJECT (self, "learnt model %s (%s) in %.1f s", path.c_str (), status.model_id.c_str (),
          status.elapsed_s);
      if (!at_eos)
        request_learnt_model (self, path);
      end_run (self, path);
      return GST_FLOW_OK;
    }
    case differnet::LearnPhase::Failed:{
      post_learn (self, status, NULL, status.error);
      const bool old = st.detector != nullptr;
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Learning failed: %s", status.error.c_str ()),
          ("%s", old ? ("Model '" + st.model_path + "' keeps running.").c_str () : "No model was written."));
      end_run (self);
      return no_model_left (self, "learning failed");
    }
  }
  return GST_FLOW_OK;
}

/* Copies the learning region of `buffer` into the run; FALSE after posting an error. */
gboolean
collect (GstDifferNetFilter * self, GstBuffer * buffer, const Settings & s)
{
  RunState & st = *self->state;
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &GST_VIDEO_FILTER (self)->in_info, buffer, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map frame %" G_GUINT64_FORMAT " to learn from it", st.frame),
        (NULL));
    return FALSE;
  }
  gboolean ok = TRUE;
  try {
    st.learner->add (differnet_filter_frame_view (&frame, st.format), s.learn_roi_set ? s.learn_roi : s.roi);
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not learn from frame %" G_GUINT64_FORMAT, st.frame),
        ("%s", differnet::without_backtrace (e.what ()).c_str ()));
    ok = FALSE;
  }
  gst_video_frame_unmap (&frame);
  return ok;
}

}  // namespace

void
differnet_filter_install_learn_api (GObjectClass * gobject_class)
{
  const GParamFlags playing = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "inspect: score every frame. learn: collect learn-frames good frames from the stream, train a model on "
          "them in the background (differnet-train's code and presets), write it to learn-output (else model) and "
          "switch to it, setting mode back to inspect. Seconds after collection ends a first model (a Gaussian over "
          "the pooled features, no training) is written there and takes over until the trained one replaces it. "
          "Set to learn while playing, a new run starts while the "
          "current model (if any) keeps inspecting; set to inspect, a run in progress is abandoned. Without a "
          "model file yet, frames pass unscored (no meta) until the first model takes over. Progress: "
          "\"differnet-learn\" element messages",
          gst_differnet_mode_get_type (), DEFAULT_PROP_MODE, playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_FRAMES,
      g_param_spec_int ("learn-frames", "Learn frames", "Frames to collect before training starts (the next run)",
          4, 1000000, DEFAULT_PROP_LEARN_FRAMES, playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_INTERVAL,
      g_param_spec_int ("learn-interval", "Learn interval", "Keep every Nth frame while collecting (consecutive "
          "frames of a video are nearly the same picture)", 1, G_MAXINT, DEFAULT_PROP_LEARN_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_ROI,
      g_param_spec_string ("learn-roi", "Learn region", "Region to learn from, \"x,y,width,height\"; empty = roi "
          "(the region that will be inspected)", "", playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_OUTPUT,
      g_param_spec_string ("learn-output", "Learn output", "Model file that learning writes (atomically: a "
          "temporary file renamed over it); empty = model. Checked writable when learning starts", NULL, playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_PRESET,
      g_param_spec_string ("learn-preset", "Learn preset", "differnet-train's preset for learning: accurate, fast, "
          "paper or fast-last-layer (README, \"Training presets\")", DEFAULT_PROP_LEARN_PRESET, playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_SETTINGS,
      g_param_spec_boxed ("learn-settings", "Learn settings", "Overrides of the preset, named as differnet-train's "
          "options, e.g. \"settings,epochs=24,input-size=224\": backbone, input-size, layers, standardize, "
          "whiten, flow-width, flow-blocks, epochs, batch-size, feature-cache, rotation, feature-noise, lr, seed, holdout, "
          "quantile, calibration-transforms, image-score (flow, gaussian, combined, or auto: chosen on the held-out "
          "frames, the fast and accurate presets' way)", GST_TYPE_STRUCTURE, playing));
  g_object_class_install_property (gobject_class, PROP_LEARN_MIN_DIFFERENCE,
      g_param_spec_double ("learn-min-difference", "Learn minimum difference", "A frame whose 32x32 gray thumbnail "
          "differs from the last kept frame's by less than this mean absolute difference (gray levels) is skipped "
          "as a near-duplicate (a still line); 0 keeps every frame", 0.0, 255.0, DEFAULT_PROP_LEARN_MIN_DIFFERENCE,
          playing));
  /**
   * GstDifferNetFilter::finish-learning:
   *
   * Action signal: stop collecting (or training) now and make the model from what there is: while
   * collecting, training starts on the frames kept so far (at least 4); while training, it stops
   * after the current step and the last finished epoch is written.
   */
  g_signal_new_class_handler ("finish-learning", G_TYPE_FROM_CLASS (gobject_class),
      (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION), G_CALLBACK (finish_learning), NULL, NULL, NULL,
      G_TYPE_NONE, 0);
}

gboolean
differnet_filter_set_learn_property (GstDifferNetFilter * self, guint prop_id, const GValue * value,
    std::string & rejected)
{
  Settings & s = *self->settings;
  switch (prop_id) {
    case PROP_MODE:{
      const auto mode = static_cast<GstDifferNetMode>(g_value_get_enum (value));
      if (self->state && mode == GST_DIFFERNET_MODE_LEARN && s.mode != GST_DIFFERNET_MODE_LEARN)
        s.learn_requests++;     /* the streaming thread starts the run */
      s.mode = mode;
      return TRUE;
    }
    case PROP_LEARN_FRAMES:
      s.learn_frames = g_value_get_int (value);
      return TRUE;
    case PROP_LEARN_INTERVAL:
      s.learn_interval = g_value_get_int (value);
      return TRUE;
    case PROP_LEARN_ROI:{
      const char *text = g_value_get_string (value);
      if (differnet_filter_parse_region (self, "learn-roi", text, s.learn_roi, rejected))
        s.learn_roi_set = text && *text;
      return TRUE;
    }
    case PROP_LEARN_OUTPUT:
      s.learn_output = g_value_get_string (value) ? g_value_get_string (value) : "";
      return TRUE;
    case PROP_LEARN_PRESET:
      s.learn_preset = g_value_get_string (value) ? g_value_get_string (value) : DEFAULT_PROP_LEARN_PRESET;
      return TRUE;
    case PROP_LEARN_SETTINGS:{
      const GstStructure *st = static_cast<const GstStructure *>(g_value_get_boxed (value));
      /* "garbage" parses as an empty structure named "garbage": a typo, not "no overrides". The old
       * value is kept (and start() refuses to run while it is invalid). */
      if (st && gst_structure_n_fields (st) == 0 && !gst_structure_has_name (st, "s")
          && !gst_structure_has_name (st, "settings")) {
        rejected = std::string ("learn-settings '") + gst_structure_get_name (st) + "' names no setting: write them as "
            "\"settings,epochs=48,holdout=10\" (\"settings\" alone for none)";
        s.invalid["learn-settings"] = rejected;
        return TRUE;
      }
      s.learn_settings.clear ();
      s.learn_settings_text.clear ();
      s.invalid.erase ("learn-settings");
      if (!st)
        return TRUE;
      for (int i = 0; i < gst_structure_n_fields (st); ++i) {
        const char *name = gst_structure_nth_field_name (st, i);
        const GValue *v = gst_structure_get_value (st, name);
        if (G_VALUE_HOLDS_STRING (v)) {
          s.learn_settings[name] = g_value_get_string (v) ? g_value_get_string (v) : "";
        } else {
          gchar *text = gst_value_serialize (v);
          s.learn_settings[name] = text ? text : "";
          g_free (text);
        }
      }
      gchar *text = gst_structure_to_string (st);
      s.learn_settings_text = text;
      g_free (text);
      return TRUE;
    }
    case PROP_LEARN_MIN_DIFFERENCE:
      s.learn_min_difference = g_value_get_double (value);
      return TRUE;
    default:
      return FALSE;
  }
}

gboolean
differnet_filter_get_learn_property (GstDifferNetFilter * self, guint prop_id, GValue * value)
{
  const Settings & s = *self->settings;
  switch (prop_id) {
    case PROP_MODE: g_value_set_enum (value, s.mode); return TRUE;
    case PROP_LEARN_FRAMES: g_value_set_int (value, s.learn_frames); return TRUE;
    case PROP_LEARN_INTERVAL: g_value_set_int (value, s.learn_interval); return TRUE;
    case PROP_LEARN_ROI: g_value_set_string (value, s.learn_roi_set ? s.learn_roi.to_string ().c_str () : ""); return TRUE;
    case PROP_LEARN_OUTPUT:
      g_value_set_string (value, s.learn_output.empty ()? NULL : s.learn_output.c_str ());
      return TRUE;
    case PROP_LEARN_PRESET: g_value_set_string (value, s.learn_preset.c_str ()); return TRUE;
    case PROP_LEARN_SETTINGS:
      g_value_take_boxed (value, s.learn_settings_text.empty ()? NULL :
          gst_structure_from_string (s.learn_settings_text.c_str (), NULL));
      return TRUE;
    case PROP_LEARN_MIN_DIFFERENCE: g_value_set_double (value, s.learn_min_difference); return TRUE;
    default:
      return FALSE;
  }
}

gboolean
differnet_filter_learn_start (GstDifferNetFilter * self, const Settings & s, RunState & state)
{
  try {
    state.learner = std::make_unique<differnet::Learner> (learn_options (s));
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot learn a model: %s",
            differnet::without_backtrace (e.what ()).c_str ()), ("Nothing was collected."));
    return FALSE;
  }
  state.learn_requests_seen = s.learn_requests;
  state.finish_requests_seen = s.finish_requests;
  state.learn_seen = 0;
  state.learn_posted_epoch = state.learn_posted_collected = state.learn_posted_features = -1;
  state.learn_first_taken.clear ();
  return TRUE;
}

GstFlowReturn
differnet_filter_learn_step (GstDifferNetFilter * self, GstBuffer * buffer, const Settings & s)
{
  RunState & st = *self->state;

  if (s.learn_requests != st.learn_requests_seen) {   /* mode set to learn while playing */
    st.learn_requests_seen = s.learn_requests;
    if (!st.learner && s.mode == GST_DIFFERNET_MODE_LEARN) {
      try {
        st.learner = std::make_unique<differnet::Learner> (learn_options (s));
        st.learn_seen = 0;
        st.learn_posted_epoch = st.learn_posted_collected = st.learn_posted_features = -1;
        st.learn_first_taken.clear ();
        st.finish_requests_seen = s.finish_requests;
      } catch (const std::exception & e) {
        GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("Cannot learn a model: %s",
                differnet::without_backtrace (e.what ()).c_str ()), ("mode is back to inspect; nothing was collected."));
        end_run (self);
        return GST_FLOW_OK;
      }
    }
  }
  if (!st.learner)
    return GST_FLOW_OK;
  if (s.mode == GST_DIFFERNET_MODE_INSPECT) {       /* set back to inspect: abandon the run */
    post_learn (self, st.learner->status (), "abandoned");
    end_run (self);
    return no_model_left (self, "abandoned");
  }
  if (s.finish_requests != st.finish_requests_seen) {
    st.finish_requests_seen = s.finish_requests;
    if (!st.learner->training_started ())
      start_training (self, false);
    else
      st.learner->finish_early ();
  }
  if (!st.learner->training_started ()) {
    if (st.learn_seen++ % static_cast<guint64>(s.learn_interval) == 0 && !collect (self, buffer, s))
      return GST_FLOW_ERROR;
    const differnet::LearnStatus status = st.learner->status ();
    if (status.collected != st.learn_posted_collected) {
      st.learn_posted_collected = status.collected;
      post_learn (self, status);
    }
    if (st.learner->full () && !start_training (self, false))
      return GST_FLOW_OK;
  }
  return poll_training (self, false);
}

GstBuffer *
differnet_filter_learn_draw (GstDifferNetFilter * self, GstBuffer * buffer)
{
  RunState & st = *self->state;
  if (!st.learner)
    return buffer;
  GST_OBJECT_LOCK (self);
  const bool draw = self->settings->overlay != GST_DIFFERNET_OVERLAY_NONE;
  GST_OBJECT_UNLOCK (self);
  if (!draw)
    return buffer;
  const differnet::LearnStatus status = st.learner->status ();
  char text[96];
  double fraction = 1.0;
  switch (status.phase) {
    case differnet::LearnPhase::Collecting:
      std::snprintf (text, sizeof text, "LEARNING %d/%d", status.collected, status.wanted);
      fraction = status.wanted > 0 ? static_cast<double>(status.collected) / status.wanted : 0.0;
      break;
    case differnet::LearnPhase::Training:
      if (status.epoch == 0 && status.features_total == 0) {
        std::snprintf (text, sizeof text, "LEARNING: training starts");
        fraction = 0.0;
      } else if (status.epoch == 0) {
        std::snprintf (text, sizeof text, "LEARNING: features %d/%d", status.features_done, status.features_total);
        fraction = status.features_total > 0 ? static_cast<double>(status.features_done) / status.features_total : 0.0;
      } else {
        std::snprintf (text, sizeof text, "LEARNING: training, epoch %d/%d", status.epoch, status.epochs);
        fraction = status.epochs > 0 ? (status.epoch - 1) / static_cast<double>(status.epochs) : 0.0;
      }
      break;
    default:
      std::snprintf (text, sizeof text, "LEARNING: %s", differnet::learn_phase_name (status.phase));
      break;
  }
  buffer = gst_buffer_make_writable (buffer);
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &GST_VIDEO_FILTER (self)->in_info, buffer, GST_MAP_READWRITE))
    return buffer;              /* the banner is a courtesy: the frame goes on without it */
  differnet::overlay::draw_progress (differnet_filter_canvas (&frame, st.format), text, fraction);
  gst_video_frame_unmap (&frame);
  return buffer;
}

void
differnet_filter_learn_eos (GstDifferNetFilter * self)
{
  RunState & st = *self->state;
  if (!st.learner)
    return;
  if (!st.learner->training_started ()) {
    GST_INFO_OBJECT (self, "end of stream while collecting: training on what was collected");
    if (!start_training (self, true))
      return;
  }
  /* EOS waits for the model: the frames collected are not lost. */
  while (st.learner) {
    const differnet::LearnStatus status = st.learner->status ();
    const bool over = status.phase == differnet::LearnPhase::Done || status.phase == differnet::LearnPhase::Failed;
    if (poll_training (self, true) != GST_FLOW_OK || over)
      break;
    g_usleep (100000);
  }
}
