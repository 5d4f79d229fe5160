/* differnetfilter: what a scored frame leaves with (meta, statistics, the differnet message, the
 * results line, the overlay and the snapshot). See gstdiffernetfilter_private.h. */
#include <glib/gstdio.h>

#include <cerrno>
#include <cstdio>

#include <gst/differnet/differnetmeta.h>
#include "error.h"
#include "gstdiffernetfilter_private.h"

#include <algorithm>
#include "overlay.h"
#include "result_json.h"

#define GST_CAT_DEFAULT gst_differnet_filter_debug

/* Returns FALSE (errno set) when the line could not be written out (a full disk, an I/O error). */
static gboolean
write_result_line (FILE * f, GstBuffer * buf, const GstDifferNetMeta * m)
{
  const std::string line = differnet::result_json (*m, GST_BUFFER_PTS (buf), differnet::defects_member (buf)) + "\n";
  if (std::fputs (line.c_str (), f) < 0)
    return FALSE;
  return std::fflush (f) == 0;
}

static void
post_result_message (GstDifferNetFilter * self, GstBuffer * buf, const GstDifferNetMeta * m)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  const GstClockTime pts = GST_BUFFER_PTS (buf);
  GstStructure *s = gst_structure_new ("differnet",
      "timestamp", G_TYPE_UINT64, pts,
      "stream-time", G_TYPE_UINT64, gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, pts),
      "running-time", G_TYPE_UINT64, gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, pts),
      "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (buf), NULL);
  gst_differnet_meta_to_structure (m, s);
  guint defects = 0;
  gpointer state = NULL;
  GstMeta *roi;
  while ((roi = gst_buffer_iterate_meta_filtered (buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
    if (((GstVideoRegionOfInterestMeta *) roi)->roi_type == g_quark_from_static_string ("defect"))
      defects++;
  gst_structure_set (s, "defects", G_TYPE_UINT, defects, NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* Frames travel in three steps. submit_input_buffer (streaming thread): the region's pixels are
 * copied onto the model's device and the frame joins the queue, which hands it to the model's
 * BatchScheduler; the scheduler's thread scores it (alone or in a batch).
 * generate_output (streaming thread, in arrival order): a finished frame gets its meta, messages
 * and overlay and leaves. With frames-in-flight = N the streaming thread waits only when N frames
 * are held, so scoring overlaps the upload, drawing and pushing of the frames around it. */

/* A scored job's result becomes the last result (carried by the frames that reuse it) and is
 * counted in the statistics. */
void
differnet_filter_keep_result (GstDifferNetFilter * self, differnet::FrameJob & job)
{
  auto last = std::make_unique<LastResult> ();
  last->detection = std::move (job.detection);
  last->region = job.region;
  last->transforms = job.request.transforms;
  const double ms = last->detection.times.total_ms;
  self->state->last = std::move (last);
  GST_OBJECT_LOCK (self);
  self->stats->scored++;
  self->stats->batch_frames += static_cast<guint64>(std::max (1, job.batch_frames));
  self->stats->total_ms += ms;
  self->stats->last_ms = ms;
  GST_OBJECT_UNLOCK (self);
}

/* Meta, statistics, messages, results line, overlay and snapshot for a frame whose job is done;
 * returns the writable buffer to push, or NULL after posting an error. */
GstBuffer *
differnet_filter_finish_frame (GstDifferNetFilter * self, std::unique_ptr<differnet::FrameJob> job)
{
  RunState & st = *self->state;
  GST_OBJECT_LOCK (self);
  const Settings s = *self->settings;
  GST_OBJECT_UNLOCK (self);

  if (!job->error.empty ()) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("DifferNet inference failed on frame %" G_GUINT64_FORMAT, job->number),
        ("%s", differnet::without_backtrace (job->error).c_str ()));
    return NULL;
  }
  if (job->score) {
    differnet_filter_keep_result (self, *job);
  } else {
    GST_OBJECT_LOCK (self);
    self->stats->reused++;
    GST_OBJECT_UNLOCK (self);
  }
  if (!st.last) {  /* cannot happen: a frame is only marked reused after a scored one */
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("No result for frame %" G_GUINT64_FORMAT, job->number), (NULL));
    return NULL;
  }
  const LastResult & r = *st.last;
  const differnet::Detection & d = r.detection;

  GstBuffer *buf = gst_buffer_make_writable (job->buffer);
  job->buffer = NULL;
  GstDifferNetMeta *meta = gst_buffer_add_differnet_meta (buf);
  meta->score = d.score;
  meta->threshold = d.threshold;
  meta->anomaly = d.anomaly;
  meta->frame = job->number;
  meta->transforms = static_cast<guint>(r.transforms);
  meta->reused = !job->score;
  meta->inference_ms = d.times.total_ms;
  g_strlcpy (meta->model_id, st.model_id.c_str (), sizeof meta->model_id);
  meta->region_x = r.region.x;
  meta->region_y = r.region.y;
  meta->region_width = r.region.width;
  meta->region_height = r.region.height;
  if (!d.heatmap.values.empty ()) {
    gst_differnet_meta_set_heatmap (meta, d.heatmap.width, d.heatmap.height, d.heatmap.values.data ());
    meta->peak_x = d.peak_x;
    meta->peak_y = d.peak_y;
    g_strlcpy (meta->heatmap_method, d.heatmap.local ? "local" : "gradient", sizeof meta->heatmap_method);
  }
  if (!d.tile_scores.empty ()) {
    int columns = 0;            /* tiles in the first row: those that start on its top edge */
    while (columns < static_cast<int>(d.tiles.size ()) && d.tiles[columns].y == d.tiles[0].y)
      columns++;
    gst_differnet_meta_set_tile_scores (meta, static_cast<guint>(d.tile_scores.size ()), static_cast<guint>(columns),
        d.tile_scores.data ());
  }
  gst_differnet_custom_meta_add (buf, meta);
  /* Where the defect is, as standard regions of interest (what DeepStream-style applications and
   * GStreamer's own elements read): one per defect region, hottest first. */
  for (const differnet::DefectRegion & r : d.defects) {
    GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta (buf, "defect",
        static_cast<guint>(std::max (0, r.box.x)), static_cast<guint>(std::max (0, r.box.y)),
        static_cast<guint>(std::max (0, r.box.width)), static_cast<guint>(std::max (0, r.box.height)));
    gst_video_region_of_interest_meta_add_param (roi, gst_structure_new ("differnet/defect", "peak", G_TYPE_DOUBLE,
            r.peak, "pixel-threshold", G_TYPE_DOUBLE, st.pixel_threshold, NULL));
  }

  const int verdict = d.anomaly ? 1 : 0;
  if (s.post_messages && (s.message_mode == GST_DIFFERNET_MESSAGE_EVERY_FRAME || verdict != st.last_verdict))
    post_result_message (self, buf, meta);
  st.last_verdict = verdict;
  if (st.results && !write_result_line (st.results, buf, meta)) {
    const int err = errno;
    st.results_lost++;
    clearerr (st.results);
    if (st.results_lost == 1)   /* once: the video goes on, the results stay in meta and messages */
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Could not write to the results file: %s", g_strerror (err)),
          ("Frame %" G_GUINT64_FORMAT " and later results may be missing from the file; they are still in the "
           "buffer metadata and the bus messages", meta->frame));
  }

  const bool snapshot = d.anomaly && !st.snapshots.dir.empty ();
  if (s.overlay == GST_DIFFERNET_OVERLAY_NONE && !snapshot)
    return buf;
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &GST_VIDEO_FILTER (self)->in_info, buf, GST_MAP_READWRITE)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map frame %" G_GUINT64_FORMAT " for drawing", job->number),
        (NULL));
    gst_buffer_unref (buf);
    return NULL;
  }
  if (s.overlay != GST_DIFFERNET_OVERLAY_NONE) {
    const differnet::overlay::Canvas canvas = differnet_filter_canvas (&frame, st.format);
    differnet::overlay::Result result {d.score, d.threshold, static_cast<bool>(d.anomaly), !job->score,
      d.heatmap.values.empty ()? nullptr : d.heatmap.values.data (), d.heatmap.width, d.heatmap.height, r.region,
      d.worst_tile >= 0 ? d.tiles[static_cast<size_t>(d.worst_tile)] : differnet::Region {}, nullptr, 0};
    std::vector<differnet::Region> boxes;
    for (const differnet::DefectRegion & r : d.defects)
      boxes.push_back (r.box);
    result.defects = boxes.data ();
    result.n_defects = static_cast<int>(boxes.size ());
    differnet::overlay::draw (canvas, result,
        s.overlay == GST_DIFFERNET_OVERLAY_HEATMAP || s.overlay == GST_DIFFERNET_OVERLAY_ALL,
        s.overlay == GST_DIFFERNET_OVERLAY_SCORE || s.overlay == GST_DIFFERNET_OVERLAY_ALL, s.heatmap_alpha);
  }
  if (snapshot)
    st.snapshots.save (GST_ELEMENT (self), &frame, st.format, job->number);
  gst_video_frame_unmap (&frame);
  return buf;
}

