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
  return TRUE;
}

static void
differnet_meta_free (GstMeta * meta, GstBuffer * buffer)
{
  GstDifferNetMeta *m = (GstDifferNetMeta *) meta;
  (void) buffer;
  g_free (m->heatmap);
  m->heatmap = NULL;
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
  if (src->heatmap)
    gst_differnet_meta_set_heatmap (dst, src->heatmap_width, src->heatmap_height, src->heatmap);
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
