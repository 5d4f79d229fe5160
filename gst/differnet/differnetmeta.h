/* GstDifferNetMeta: the DifferNet result attached to every buffer that leaves differnetfilter.
 *
 * Read it in a pad probe (C/C++):
 *   GstDifferNetMeta *m = gst_buffer_get_differnet_meta (buffer);
 *   if (m) g_print ("frame %" G_GUINT64_FORMAT " score %f%s\n", m->frame, m->score, m->anomaly ? " ANOMALY" : "");
 * Build with: pkg-config --cflags --libs gstreamer-differnet-1.0
 *
 * The same fields travel as a GstCustomMeta named "DifferNetResult" carrying a GstStructure, for
 * applications without this header (Python: buffer.get_custom_meta ("DifferNetResult").structure).
 */
#ifndef __GST_DIFFERNET_META_H__
#define __GST_DIFFERNET_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_DIFFERNET_META_API_TYPE (gst_differnet_meta_api_get_type ())
#define GST_DIFFERNET_META_INFO (gst_differnet_meta_get_info ())
/* Name of the GstCustomMeta that carries the same fields as a GstStructure. */
#define GST_DIFFERNET_CUSTOM_META_NAME "DifferNetResult"

typedef struct _GstDifferNetMeta GstDifferNetMeta;

/**
 * GstDifferNetMeta:
 * @meta: parent #GstMeta
 * @score: anomaly score: mean of z^2 over the test-time rotations and feature dimensions
 * @threshold: the decision threshold used (NaN when the model is uncalibrated and none was set)
 * @anomaly: %TRUE when @score >= @threshold
 * @frame: frame number, counted from 0 at each start of the element
 * @transforms: test-time rotations T the score was computed with
 * @reused: %TRUE when this frame was not scored but carries the last scored frame's result
 *          (inference-interval > 1)
 * @inference_ms: time the scoring of this result took, in milliseconds
 * @model_id: first 12 hex digits of the model file's SHA-256, NUL-terminated
 * @region_x: left of the scored region in pixels
 * @region_y: top of the scored region
 * @region_width: width of the scored region (the whole frame when no roi is set)
 * @region_height: height of the scored region
 * @heatmap_width: columns of @heatmap (0 when localization is off)
 * @heatmap_height: rows of @heatmap
 * @heatmap: row-major float32 anomaly map covering the scored region (larger = more anomalous,
 *           unnormalised), or %NULL; owned by the meta
 * @n_tiles: tiles the region was cut into (tiles property or the model's tiling; 0 when the region
 *           was scored as one image)
 * @worst_tile: index of the tile with the largest score (the frame's @score), row-major; -1 untiled
 * @tile_scores: @n_tiles scores, row-major, or %NULL; owned by the meta
 * @tile_columns: tiles per row (0 untiled); tile i is at column i % @tile_columns
 * @peak_x: the hottest point of the heatmap, frame pixels (the centre of its hottest heatmap cell);
 *          -1 when no heatmap was made for this frame
 * @peak_y: likewise, the row
 * @heatmap_method: how the heatmap was made: "gradient" (the gradient of the score, the method's),
 *                  "local" (the model's local scorer, from the forward pass), "" without a heatmap
 */
struct _GstDifferNetMeta {
  GstMeta meta;

  gdouble score;
  gdouble threshold;
  gboolean anomaly;
  guint64 frame;
  guint transforms;
  gboolean reused;
  gdouble inference_ms;
  gchar model_id[13];

  gint region_x, region_y, region_width, region_height;

  guint heatmap_width;
  guint heatmap_height;
  gfloat *heatmap;
  guint n_tiles;
  gint worst_tile;
  gdouble *tile_scores;
  guint tile_columns;
  gint peak_x, peak_y;
  gchar heatmap_method[12];
};

GType gst_differnet_meta_api_get_type (void);
const GstMetaInfo *gst_differnet_meta_get_info (void);

/* Adds an empty meta (all fields zero, no heatmap) to a writable @buffer. */
GstDifferNetMeta *gst_buffer_add_differnet_meta (GstBuffer * buffer);

/* Copies @width x @height floats into the meta, replacing any earlier heatmap. */
void gst_differnet_meta_set_heatmap (GstDifferNetMeta * meta, guint width, guint height, const gfloat * values);

#define gst_buffer_get_differnet_meta(b) \
  ((GstDifferNetMeta *) gst_buffer_get_meta ((b), GST_DIFFERNET_META_API_TYPE))

/* Copies @n scores (row-major, @columns per row) into the meta and sets @worst_tile to the index of
 * the largest; @n = 0 clears them (untiled: @worst_tile -1). */
void gst_differnet_meta_set_tile_scores (GstDifferNetMeta * meta, guint n, guint columns, const gdouble * scores);

/* Registers the "DifferNetResult" custom meta (idempotent; the plugin calls it when it loads). */
void gst_differnet_custom_meta_register (void);

/* Writes the fields of @meta (heatmap included, as GBytes "heatmap" with "heatmap-width" and
 * "heatmap-height") into a "DifferNetResult" custom meta on the writable @buffer. */
void gst_differnet_custom_meta_add (GstBuffer * buffer, const GstDifferNetMeta * meta);

/* Fills @s with the fields of @meta without the heatmap (used for bus messages); tiled results add
 * "worst-tile" (int), "tile-columns" (uint) and "tile-scores" (a GstValueArray of doubles). */
void gst_differnet_meta_to_structure (const GstDifferNetMeta * meta, GstStructure * s);

G_END_DECLS

#endif /* __GST_DIFFERNET_META_H__ */
