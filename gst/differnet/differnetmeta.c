#include "differnetmeta.h"

#include <string.h>

GType
gst_differnet_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };  /* no tags: survives colour conversion and copies */
  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstDifferNetMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
differnet_meta_init (GstMeta * meta, gpointer params, GstBuffer * buffer)
{
  GstDifferNetMeta *m = (GstDifferNetMeta *) meta;
  (void) params;
  (void) buffer;
  memset ((guint8 *) m + sizeof (GstMeta), 0, sizeof (GstDifferNetMeta) - sizeof (GstMeta));
  m->worst_tile = -1;
  m->peak_x = m->peak_y = -1;
  return TRUE;
}

static void
differnet_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstDifferNetMeta *m = (GstDifferNetMeta *) meta;
  (void) buffer;
  g_free (m->heatmap);
  m->heatmap = NULL;
  g_free (m->tile_scores);
  m->tile_scores = NULL;
}

static gboolean
differnet_meta_transform (GstBuffer * dest, GstMeta * meta, GstBuffer * buffer, GQuark type, gpointer data)
{
  const GstDifferNetMeta *src = (const GstDifferNetMeta *) meta;
  GstDifferNetMeta *dst;
  (void) buffer;
  (void) data;
  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;  /* a scale or crop would move the region and the heatmap: drop the meta */
  dst = gst_buffer_add_differnet_meta (dest);
  if (!dst)
    return FALSE;
  memcpy ((guint8 *) dst + sizeof (GstMeta), (const guint8 *) src + sizeof (GstMeta),
      sizeof (GstDifferNetMeta) - sizeof (GstMeta));
  dst->heatmap = NULL;
  dst->tile_scores = NULL;
  if (src->heatmap)
    gst_differnet_meta_set_heatmap (dst, src->heatmap_width, src->heatmap_height, src->heatmap);
  gst_differnet_meta_set_tile_scores (dst, src->n_tiles, src->tile_columns, src->tile_scores);
  return TRUE;
}

const GstMetaInfo *
gst_differnet_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) & info)) {
    const GstMetaInfo *i = gst_meta_register (GST_DIFFERNET_META_API_TYPE, "GstDifferNetMeta",
        sizeof (GstDifferNetMeta), differnet_meta_init, differnet_meta_free, differnet_meta_transform);
    g_once_init_leave ((GstMetaInfo **) & info, (GstMetaInfo *) i);
  }
  return info;
}

GstDifferNetMeta *
gst_buffer_add_differnet_meta (GstBuffer * buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return (GstDifferNetMeta *) gst_buffer_add_meta (buffer, GST_DIFFERNET_META_INFO, NULL);
}

void
gst_differnet_meta_set_heatmap (GstDifferNetMeta * meta, guint width, guint height, const gfloat * values)
{
  g_return_if_fail (meta != NULL);
  g_free (meta->heatmap);
  meta->heatmap = NULL;
  meta->heatmap_width = meta->heatmap_height = 0;
  if (width == 0 || height == 0 || values == NULL)
    return;
  meta->heatmap = g_memdup2 (values, (gsize) width * height * sizeof (gfloat));
  meta->heatmap_width = width;
  meta->heatmap_height = height;
}

void
gst_differnet_meta_set_tile_scores (GstDifferNetMeta * meta, guint n, guint columns, const gdouble * scores)
{
  guint i;
  g_return_if_fail (meta != NULL);
  g_free (meta->tile_scores);
  meta->tile_scores = NULL;
  meta->n_tiles = 0;
  meta->tile_columns = 0;
  meta->worst_tile = -1;
  if (n == 0 || scores == NULL)
    return;
  meta->tile_scores = g_memdup2 (scores, (gsize) n * sizeof (gdouble));
  meta->n_tiles = n;
  meta->tile_columns = columns > 0 ? columns : n;
  meta->worst_tile = 0;
  for (i = 1; i < n; i++)
    if (scores[i] > scores[meta->worst_tile])
      meta->worst_tile = (gint) i;
}

void
gst_differnet_custom_meta_register (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    static const gchar *tags[] = { NULL };
    gst_meta_register_custom (GST_DIFFERNET_CUSTOM_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave (&done, 1);
  }
}

void
gst_differnet_meta_to_structure (const GstDifferNetMeta * m, GstStructure * s)
{
  gst_structure_set (s,
      "score", G_TYPE_DOUBLE, m->score,
      "threshold", G_TYPE_DOUBLE, m->threshold,
      "anomaly", G_TYPE_BOOLEAN, m->anomaly,
      "frame", G_TYPE_UINT64, m->frame,
      "transforms", G_TYPE_UINT, m->transforms,
      "reused", G_TYPE_BOOLEAN, m->reused,
      "inference-ms", G_TYPE_DOUBLE, m->inference_ms,
      "model-id", G_TYPE_STRING, m->model_id,
      "region-x", G_TYPE_INT, m->region_x,
      "region-y", G_TYPE_INT, m->region_y,
      "region-width", G_TYPE_INT, m->region_width,
      "region-height", G_TYPE_INT, m->region_height, NULL);
  if (m->n_tiles > 0 && m->tile_scores) {
    GValue array = G_VALUE_INIT, v = G_VALUE_INIT;
    guint i;
    gst_value_array_init (&array, m->n_tiles);
    g_value_init (&v, G_TYPE_DOUBLE);
    for (i = 0; i < m->n_tiles; i++) {
      g_value_set_double (&v, m->tile_scores[i]);
      gst_value_array_append_value (&array, &v);
    }
    gst_structure_set (s, "worst-tile", G_TYPE_INT, m->worst_tile, "tile-columns", G_TYPE_UINT, m->tile_columns, NULL);
    gst_structure_take_value (s, "tile-scores", &array);
    g_value_unset (&v);
  }
  if (m->peak_x >= 0 && m->peak_y >= 0)
    gst_structure_set (s, "peak-x", G_TYPE_INT, m->peak_x, "peak-y", G_TYPE_INT, m->peak_y,
        "heatmap-method", G_TYPE_STRING, m->heatmap_method, NULL);
}

void
gst_differnet_custom_meta_add (GstBuffer * buffer, const GstDifferNetMeta * m)
{
  GstCustomMeta *cm;
  GstStructure *s;
  gst_differnet_custom_meta_register ();
  cm = gst_buffer_add_custom_meta (buffer, GST_DIFFERNET_CUSTOM_META_NAME);
  g_return_if_fail (cm != NULL);
  s = gst_custom_meta_get_structure (cm);
  gst_differnet_meta_to_structure (m, s);
  if (m->heatmap) {
    GBytes *bytes = g_bytes_new (m->heatmap, (gsize) m->heatmap_width * m->heatmap_height * sizeof (gfloat));
    gst_structure_set (s, "heatmap-width", G_TYPE_UINT, m->heatmap_width,
        "heatmap-height", G_TYPE_UINT, m->heatmap_height, "heatmap", G_TYPE_BYTES, bytes, NULL);
    g_bytes_unref (bytes);
  }
}
