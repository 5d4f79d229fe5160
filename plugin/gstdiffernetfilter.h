/* differnetfilter: DifferNet defect detection on raw video frames. */
#ifndef __GST_DIFFERNET_FILTER_H__
#define __GST_DIFFERNET_FILTER_H__

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_DIFFERNET_FILTER (gst_differnet_filter_get_type ())
G_DECLARE_FINAL_TYPE (GstDifferNetFilter, gst_differnet_filter, GST, DIFFERNET_FILTER, GstVideoFilter)

/**
 * GstDifferNetOverlay:
 * @GST_DIFFERNET_OVERLAY_NONE: draw nothing: pixels leave unchanged
 * @GST_DIFFERNET_OVERLAY_HEATMAP: the localization heatmap only
 * @GST_DIFFERNET_OVERLAY_SCORE: the score text and the verdict border only
 * @GST_DIFFERNET_OVERLAY_ALL: heatmap, score and border
 */
typedef enum {
  GST_DIFFERNET_OVERLAY_NONE,
  GST_DIFFERNET_OVERLAY_HEATMAP,
  GST_DIFFERNET_OVERLAY_SCORE,
  GST_DIFFERNET_OVERLAY_ALL,
} GstDifferNetOverlay;

/**
 * GstDifferNetMessageMode:
 * @GST_DIFFERNET_MESSAGE_EVERY_FRAME: one element message per frame
 * @GST_DIFFERNET_MESSAGE_ON_CHANGE: a message for the first frame and whenever the verdict changes
 */
typedef enum {
  GST_DIFFERNET_MESSAGE_EVERY_FRAME,
  GST_DIFFERNET_MESSAGE_ON_CHANGE,
} GstDifferNetMessageMode;

GST_ELEMENT_REGISTER_DECLARE (differnetfilter);

G_END_DECLS

#endif /* __GST_DIFFERNET_FILTER_H__ */
