/* read-meta: runs a pipeline with differnetfilter and reads each buffer's DifferNet result in a pad
 * probe, the way DeepStream applications read their metadata.
 *
 *   read-meta MODEL [PIPELINE]
 * PIPELINE must contain an element named "differnet" (a differnetfilter); the default is
 *   videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! videoconvert !
 *   differnetfilter name=differnet model=MODEL overlay=none ! fakesink
 * Prints one line per frame and a summary; exits 1 if a buffer came without the meta.
 * Build: cc read-meta.c $(pkg-config --cflags --libs gstreamer-differnet-1.0) -o read-meta
 */
#include <gst/gst.h>
#include <gst/differnet/differnetmeta.h>
#include <math.h>

typedef struct {
  guint buffers, with_meta, anomalies;
} Counts;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Counts *counts = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstDifferNetMeta *meta = gst_buffer_get_differnet_meta (buffer);
  (void) pad;
  counts->buffers++;
  if (meta) {
    counts->with_meta++;
    counts->anomalies += meta->anomaly ? 1 : 0;
    g_print ("frame %" G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT " score %.4f threshold %.4f %s%s heatmap %ux%u\n",
        meta->frame, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)), meta->score, meta->threshold,
        meta->anomaly ? "ANOMALY" : "ok", meta->reused ? " (reused)" : "", meta->heatmap_width, meta->heatmap_height);
  }
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  gchar *description;
  GstElement *pipeline, *filter;
  GstPad *pad;
  GstBus *bus;
  GstMessage *msg;
  Counts counts = { 0, 0, 0 };
  int status = 0;

  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: %s MODEL [PIPELINE with an element named differnet]\n", argv[0]);
    return 2;
  }
  description = argc > 2 ? g_strdup (argv[2]) :
      g_strdup_printf ("videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! videoconvert ! "
      "differnetfilter name=differnet model=\"%s\" overlay=none ! fakesink", argv[1]);
  pipeline = gst_parse_launch (description, &error);
  g_free (description);
  if (!pipeline) {
    g_printerr ("bad pipeline: %s\n", error->message);
    g_error_free (error);
    return 2;
  }
  filter = gst_bin_get_by_name (GST_BIN (pipeline), "differnet");
  if (!filter) {
    g_printerr ("the pipeline has no element named 'differnet'\n");
    return 2;
  }
  pad = gst_element_get_static_pad (filter, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &counts, NULL);
  gst_object_unref (pad);
  gst_object_unref (filter);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gchar *debug = NULL;
    gst_message_parse_error (msg, &error, &debug);
    g_printerr ("error: %s (%s)\n", error->message, debug ? debug : "");
    g_error_free (error);
    g_free (debug);
    status = 1;
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  g_print ("%u buffers, %u with DifferNet meta, %u anomalous\n", counts.buffers, counts.with_meta, counts.anomalies);
  if (counts.buffers == 0 || counts.with_meta != counts.buffers)
    status = 1;
  return status;
}
