/* differnetfilter: the live model swap between two frames (`model` set while PLAYING, or a model
 * learnt in learn mode). See gstdiffernetfilter_private.h. */
#include "gstdiffernetfilter_private.h"

#define GST_CAT_DEFAULT gst_differnet_filter_debug

std::string
differnet_filter_uncalibrated_hint ()
{
  return "Without a threshold every frame would be judged good, so the element refuses it. Calibrate it on "
      "good images (differnet-calibrate MODEL GOOD_IMAGES_FOLDER), or set the 'threshold' property to a score.";
}

differnet::DetectRequest
differnet_filter_warm_request (const Settings & s)
{
  differnet::DetectRequest warm;
  warm.transforms = s.transforms;
  warm.localize = s.localization != GST_DIFFERNET_LOCALIZATION_OFF;  /* on-anomaly may need it */
  warm.tiles = s.tiles;
  warm.tile_overlap = s.tile_overlap;
  return warm;
}

/* A live model swap, between two frames (streaming thread): the frames held are finished with the
 * old model, the new one takes over from the next frame, which is scored afresh; a model that
 * could not be loaded leaves the old one running, with a warning naming the file and the reason.
 * Without an old model (learn mode started without one) the first model simply takes over. */
GstFlowReturn
differnet_filter_switch_model (GstDifferNetFilter * self, differnet::ModelLoader::Result result)
{
  RunState & st = *self->state;
  GST_OBJECT_LOCK (self);
  const bool threshold_set = self->settings->threshold >= 0;
  const bool wants_local = self->settings->localization_method == GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL;
  GST_OBJECT_UNLOCK (self);
  if (result.detector && wants_local && !result.detector->summary ().local_scorer) {
    result.detector.reset ();
    result.error = "the model has no local scorer and localization-method is local (train it with differnet-train "
        "--local yes, or set localization-method=auto)";
  }
  if (result.detector && !result.detector->summary ().calibrated && !threshold_set) {
    /* Fail closed: an uncalibrated model would let every frame pass. Refused like a model that
     * cannot be loaded. */
    result.detector.reset ();
    result.error = "the model has no calibrated threshold. " + differnet_filter_uncalibrated_hint ();
  }
  if (!result.detector && !st.detector) {
    /* Learn mode without an earlier model: nothing could inspect the frames. Fail closed. */
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load model '%s', and there is no other model to "
            "inspect with", result.path.c_str ()), ("%s", result.error.c_str ()));
    return GST_FLOW_ERROR;
  }
  if (!result.detector) {
    GST_OBJECT_LOCK (self);
    if (self->settings->model == result.path)   /* not superseded meanwhile: show what runs */
      self->settings->model = st.model_path;
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ, ("Could not switch to model '%s'; model '%s' keeps running",
            result.path.c_str (), st.model_path.c_str ()), ("%s", result.error.c_str ()));
    return GST_FLOW_OK;
  }
  const GstFlowReturn ret = differnet_filter_drain (self);
  if (ret != GST_FLOW_OK)
    return ret;
  const std::string old_path = st.model_path, old_id = st.model_id;
  st.background.reset ();
  st.queue.reset ();
  st.detector = std::move (result.detector);
  st.queue = std::make_unique<differnet::ScoringQueue> (*st.detector, st.batch);
  GST_OBJECT_LOCK (self);
  const bool pass = self->settings->when_busy == GST_DIFFERNET_WHEN_BUSY_PASS;
  GST_OBJECT_UNLOCK (self);
  if (pass)
    st.background = std::make_unique<differnet::ScoringQueue> (*st.detector, st.batch);
  const differnet::ModelSummary & m = st.detector->summary ();
  st.model_path = result.path;
  st.model_id = m.model_id;
  st.model_calibrated = m.calibrated;
  st.model_local = m.local_scorer;
  st.pixel_threshold = m.pixel_threshold;
  st.active_device = m.device;
  st.active_precision = m.precision;
  st.active_flow_precision = m.flow_precision;
  st.last.reset ();
  st.scored_any = false;
  st.last_verdict = -1;
  GST_INFO_OBJECT (self, "switched from model %s (%s) to %s (%s) at frame %" G_GUINT64_FORMAT, old_path.c_str (),
      old_id.c_str (), st.model_path.c_str (), st.model_id.c_str (), st.frame);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("model-changed", "old-model", G_TYPE_STRING, old_path.c_str (),
              "old-model-id", G_TYPE_STRING, old_id.c_str (), "model", G_TYPE_STRING, st.model_path.c_str (),
              "model-id", G_TYPE_STRING, st.model_id.c_str (), "frame", G_TYPE_UINT64, st.frame,
              "calibrated", G_TYPE_BOOLEAN, m.calibrated, "image-score", G_TYPE_STRING, m.image_score.c_str (), NULL)));
  return GST_FLOW_OK;
}

