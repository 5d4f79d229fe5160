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

/**
 * GstDifferNetLocalization:
 * @GST_DIFFERNET_LOCALIZATION_OFF: no heatmap
 * @GST_DIFFERNET_LOCALIZATION_ON: a heatmap for every scored frame
 * @GST_DIFFERNET_LOCALIZATION_ON_ANOMALY: a heatmap only for frames judged anomalous
 *
 * The values of OFF and ON are those of FALSE and TRUE, so that code written when the property
 * was a boolean keeps working.
 */
typedef enum {
  GST_DIFFERNET_LOCALIZATION_OFF = 0,
  GST_DIFFERNET_LOCALIZATION_ON = 1,
  GST_DIFFERNET_LOCALIZATION_ON_ANOMALY = 2,
} GstDifferNetLocalization;

/**
 * GstDifferNetLocalizationMethod:
 * @GST_DIFFERNET_LOCALIZATION_METHOD_AUTO: the local map when the model has a local scorer, else the gradient
 * @GST_DIFFERNET_LOCALIZATION_METHOD_GRADIENT: the gradient of the score with respect to the frame
 *     (DifferNet's own localization; a backward pass)
 * @GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL: the model's local scorer: per-cell scores of the feature
 *     maps, from the same forward pass as the score (models trained with it only)
 */
typedef enum {
  GST_DIFFERNET_LOCALIZATION_METHOD_AUTO,
  GST_DIFFERNET_LOCALIZATION_METHOD_GRADIENT,
  GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL,
} GstDifferNetLocalizationMethod;

/**
 * GstDifferNetWhenBusy:
 * @GST_DIFFERNET_WHEN_BUSY_WAIT: every frame due for scoring waits for its own score
 * @GST_DIFFERNET_WHEN_BUSY_PASS: no frame waits for the scorer: a frame due for scoring is handed
 *     to it when it is idle; every frame leaves at once with the last result, marked reused
 */
typedef enum {
  GST_DIFFERNET_WHEN_BUSY_WAIT,
  GST_DIFFERNET_WHEN_BUSY_PASS,
} GstDifferNetWhenBusy;

/**
 * GstDifferNetMode:
 * @GST_DIFFERNET_MODE_INSPECT: score every frame with the model
 * @GST_DIFFERNET_MODE_LEARN: collect good frames from the stream, train a model on them in the
 *     background, write it and switch to inspect
 */
typedef enum {
  GST_DIFFERNET_MODE_INSPECT,
  GST_DIFFERNET_MODE_LEARN,
} GstDifferNetMode;

/* The GTypes of the enums above (gstdiffernetenums.cpp). */
GType gst_differnet_overlay_get_type (void);
GType gst_differnet_message_mode_get_type (void);
GType gst_differnet_localization_get_type (void);
GType gst_differnet_localization_method_get_type (void);
GType gst_differnet_when_busy_get_type (void);
GType gst_differnet_mode_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (differnetfilter);

G_END_DECLS

#endif /* __GST_DIFFERNET_FILTER_H__ */
