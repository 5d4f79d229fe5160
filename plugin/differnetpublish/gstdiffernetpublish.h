/* differnetpublish: sends every DifferNet result on the buffers passing through to an MQTT broker
 * or a JSON-lines file, off the streaming thread. */
#ifndef __GST_DIFFERNET_PUBLISH_H__
#define __GST_DIFFERNET_PUBLISH_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_DIFFERNET_PUBLISH (gst_differnet_publish_get_type ())
G_DECLARE_FINAL_TYPE (GstDifferNetPublish, gst_differnet_publish, GST, DIFFERNET_PUBLISH, GstBaseTransform)

/**
 * GstDifferNetPublishMethod:
 * @GST_DIFFERNET_PUBLISH_METHOD_MQTT: an MQTT broker (libmosquitto)
 * @GST_DIFFERNET_PUBLISH_METHOD_FILE: a JSON-lines file (appended to)
 */
typedef enum {
  GST_DIFFERNET_PUBLISH_METHOD_MQTT,
  GST_DIFFERNET_PUBLISH_METHOD_FILE,
} GstDifferNetPublishMethod;

/**
 * GstDifferNetPublishWhat:
 * @GST_DIFFERNET_PUBLISH_ALL: every result
 * @GST_DIFFERNET_PUBLISH_ANOMALIES: only results judged anomalous
 * @GST_DIFFERNET_PUBLISH_CHANGES: the first result and each one whose verdict differs from the last
 */
typedef enum {
  GST_DIFFERNET_PUBLISH_ALL,
  GST_DIFFERNET_PUBLISH_ANOMALIES,
  GST_DIFFERNET_PUBLISH_CHANGES,
} GstDifferNetPublishWhat;

GST_ELEMENT_REGISTER_DECLARE (differnetpublish);

G_END_DECLS

#endif /* __GST_DIFFERNET_PUBLISH_H__ */
