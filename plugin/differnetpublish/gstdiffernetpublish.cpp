/* differnetpublish: a pass-through element that publishes the GstDifferNetMeta of each buffer as
 * one JSON object (the results-file fields plus stream, host, region and, on request, the anomalous
 * frame as a JPEG) to an MQTT broker or a JSON-lines file.
 *
 *   ... ! differnetfilter model=M ! differnetpublish address=broker:1883 topic=plant/line1 ! ...
 *
 * Publishing runs on the Publisher's own thread through a bounded queue: the streaming thread only
 * formats the message and queues it, so a slow or absent broker never holds up the video. When the
 * queue is full the oldest messages are dropped and counted (messages-dropped) and a warning is
 * posted; the client reconnects with exponential backoff and an info message says when publishing
 * resumed and how many messages were lost meanwhile.
 *
 * Why libmosquitto: Debian ships it (libmosquitto-dev, from the Eclipse Mosquitto project, beside
 * the broker most plants run), it is a small C library with TLS, username/password and MQTT 3.1.1/5
 * support, and it lets the element drive the network loop from its own thread (mosquitto_loop), so
 * that connection, publishing and acknowledgements are in one place. Eclipse Paho C is in Debian
 * too but its asynchronous client brings its own threads and persistence layer we do not need. */
#include "gstdiffernetpublish.h"

#include <gst/video/video.h>

#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include <gst/differnet/differnetmeta.h>
#include "publisher.h"
#include "result_json.h"

GST_DEBUG_CATEGORY_STATIC (gst_differnet_publish_debug);
#define GST_CAT_DEFAULT gst_differnet_publish_debug

enum {
  PROP_0,
  PROP_METHOD,
  PROP_LOCATION,
  PROP_ADDRESS,
  PROP_TOPIC,
  PROP_QOS,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD_FILE,
  PROP_TLS_CA_FILE,
  PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_STREAM,
  PROP_PUBLISH,
  PROP_INTERVAL,
  PROP_ATTACH_FRAME,
  PROP_FRAME_MAX_BYTES,
  PROP_QUEUE_SIZE,
  PROP_REQUIRED,
  PROP_RECONNECT_MAX_DELAY,
  PROP_DRAIN_TIMEOUT,
  PROP_MESSAGES_PUBLISHED,
  PROP_MESSAGES_DROPPED,
  PROP_MESSAGES_QUEUED,
  PROP_CONNECTED,
};

#define DEFAULT_ADDRESS "localhost:1883"
#define DEFAULT_TOPIC "differnet/results"
#define DEFAULT_QOS 1
#define DEFAULT_INTERVAL 1
#define DEFAULT_FRAME_MAX_BYTES 262144
#define DEFAULT_QUEUE_SIZE 1000
#define DEFAULT_RECONNECT_MAX_DELAY 30
#define DEFAULT_DRAIN_TIMEOUT 2000
#define REQUIRED_WAIT_S 5.0

namespace {

struct PublishSettings {
  GstDifferNetPublishMethod method = GST_DIFFERNET_PUBLISH_METHOD_MQTT;
  std::string location, address = DEFAULT_ADDRESS, topic = DEFAULT_TOPIC, client_id, username, password_file;
  std::string ca_file, cert_file, key_file, stream;
  guint qos = DEFAULT_QOS;
  GstDifferNetPublishWhat what = GST_DIFFERNET_PUBLISH_ALL;
  guint interval = DEFAULT_INTERVAL;
  gboolean attach_frame = FALSE;
  guint frame_max_bytes = DEFAULT_FRAME_MAX_BYTES;
  guint queue_size = DEFAULT_QUEUE_SIZE;
  gboolean required = FALSE;
  guint reconnect_max_delay = DEFAULT_RECONNECT_MAX_DELAY;
  guint drain_timeout = DEFAULT_DRAIN_TIMEOUT;
};

/* Per-run state: made in start(), dropped in stop(). */
struct PublishRun {
  std::unique_ptr<differnet::Publisher> publisher;
  std::string stream, host;
  guint64 results = 0;        // results that passed the publish filter
  int last_verdict = -1;
  GstVideoInfo info;
  bool have_info = false;
  bool frame_warned = false;  // attach-frame on caps it cannot encode: said once
};

}  // namespace

struct _GstDifferNetPublish {
  GstBaseTransform parent;
  PublishSettings *settings;
  PublishRun *run;                          // null while stopped
  differnet::Publisher::Stats *last_stats;  // of the last run, once stopped
};

#define gst_differnet_publish_parent_class parent_class
G_DEFINE_TYPE (GstDifferNetPublish, gst_differnet_publish, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (differnetpublish, "differnetpublish", GST_RANK_NONE, GST_TYPE_DIFFERNET_PUBLISH);

static GType
gst_differnet_publish_method_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type)) {
    static const GEnumValue values[] = {
      {GST_DIFFERNET_PUBLISH_METHOD_MQTT, "An MQTT broker (address, topic, qos, TLS and credentials)", "mqtt"},
      {GST_DIFFERNET_PUBLISH_METHOD_FILE, "A JSON-lines file (location), appended to", "file"},
      {0, NULL, NULL}
    };
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetPublishMethod", values));
  }
  return type;
}

static GType
gst_differnet_publish_what_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type)) {
    static const GEnumValue values[] = {
      {GST_DIFFERNET_PUBLISH_ALL, "Every result", "all"},
      {GST_DIFFERNET_PUBLISH_ANOMALIES, "Only results judged anomalous", "anomalies"},
      {GST_DIFFERNET_PUBLISH_CHANGES, "The first result and each one whose verdict changed", "changes"},
      {0, NULL, NULL}
    };
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetPublishWhat", values));
  }
  return type;
}

static void
set_string (std::string & field, const GValue * value)
{
  field = g_value_get_string (value) ? g_value_get_string (value) : "";
}

static const gchar *
or_null (const std::string & s)
{
  return s.empty () ? NULL : s.c_str ();
}

static void
gst_differnet_publish_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (object);
  GST_OBJECT_LOCK (self);
  const bool running = self->run != NULL;
  PublishSettings & s = *self->settings;
  /* All but publish, interval and attach-frame shape the connection: only while stopped. */
  const bool live = prop_id == PROP_PUBLISH || prop_id == PROP_INTERVAL || prop_id == PROP_ATTACH_FRAME
      || prop_id == PROP_FRAME_MAX_BYTES;
  if (running && !live) {
    GST_OBJECT_UNLOCK (self);
    g_warning ("differnetpublish: property '%s' can only be changed in the NULL or READY state; ignored", pspec->name);
    return;
  }
  switch (prop_id) {
    case PROP_METHOD: s.method = static_cast<GstDifferNetPublishMethod>(g_value_get_enum (value)); break;
    case PROP_LOCATION: set_string (s.location, value); break;
    case PROP_ADDRESS: set_string (s.address, value); break;
    case PROP_TOPIC: set_string (s.topic, value); break;
    case PROP_QOS: s.qos = g_value_get_uint (value); break;
    case PROP_CLIENT_ID: set_string (s.client_id, value); break;
    case PROP_USERNAME: set_string (s.username, value); break;
    case PROP_PASSWORD_FILE: set_string (s.password_file, value); break;
    case PROP_TLS_CA_FILE: set_string (s.ca_file, value); break;
    case PROP_TLS_CERT_FILE: set_string (s.cert_file, value); break;
    case PROP_TLS_KEY_FILE: set_string (s.key_file, value); break;
    case PROP_STREAM: set_string (s.stream, value); break;
    case PROP_PUBLISH: s.what = static_cast<GstDifferNetPublishWhat>(g_value_get_enum (value)); break;
    case PROP_INTERVAL: s.interval = g_value_get_uint (value); break;
    case PROP_ATTACH_FRAME: s.attach_frame = g_value_get_boolean (value); break;
    case PROP_FRAME_MAX_BYTES: s.frame_max_bytes = g_value_get_uint (value); break;
    case PROP_QUEUE_SIZE: s.queue_size = g_value_get_uint (value); break;
    case PROP_REQUIRED: s.required = g_value_get_boolean (value); break;
    case PROP_RECONNECT_MAX_DELAY: s.reconnect_max_delay = g_value_get_uint (value); break;
    case PROP_DRAIN_TIMEOUT: s.drain_timeout = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static differnet::Publisher::Stats
current_stats (GstDifferNetPublish * self)
{
  /* Called with the object lock held. */
  if (self->run && self->run->publisher)
    return self->run->publisher->stats ();
  return *self->last_stats;
}

static void
gst_differnet_publish_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (object);
  GST_OBJECT_LOCK (self);
  const PublishSettings & s = *self->settings;
  switch (prop_id) {
    case PROP_METHOD: g_value_set_enum (value, s.method); break;
    case PROP_LOCATION: g_value_set_string (value, or_null (s.location)); break;
    case PROP_ADDRESS: g_value_set_string (value, s.address.c_str ()); break;
    case PROP_TOPIC: g_value_set_string (value, s.topic.c_str ()); break;
    case PROP_QOS: g_value_set_uint (value, s.qos); break;
    case PROP_CLIENT_ID: g_value_set_string (value, or_null (s.client_id)); break;
    case PROP_USERNAME: g_value_set_string (value, or_null (s.username)); break;
    case PROP_PASSWORD_FILE: g_value_set_string (value, or_null (s.password_file)); break;
    case PROP_TLS_CA_FILE: g_value_set_string (value, or_null (s.ca_file)); break;
    case PROP_TLS_CERT_FILE: g_value_set_string (value, or_null (s.cert_file)); break;
    case PROP_TLS_KEY_FILE: g_value_set_string (value, or_null (s.key_file)); break;
    case PROP_STREAM: g_value_set_string (value, or_null (s.stream)); break;
    case PROP_PUBLISH: g_value_set_enum (value, s.what); break;
    case PROP_INTERVAL: g_value_set_uint (value, s.interval); break;
    case PROP_ATTACH_FRAME: g_value_set_boolean (value, s.attach_frame); break;
    case PROP_FRAME_MAX_BYTES: g_value_set_uint (value, s.frame_max_bytes); break;
    case PROP_QUEUE_SIZE: g_value_set_uint (value, s.queue_size); break;
    case PROP_REQUIRED: g_value_set_boolean (value, s.required); break;
    case PROP_RECONNECT_MAX_DELAY: g_value_set_uint (value, s.reconnect_max_delay); break;
    case PROP_DRAIN_TIMEOUT: g_value_set_uint (value, s.drain_timeout); break;
    case PROP_MESSAGES_PUBLISHED: g_value_set_uint64 (value, current_stats (self).published); break;
    case PROP_MESSAGES_DROPPED: g_value_set_uint64 (value, current_stats (self).dropped); break;
    case PROP_MESSAGES_QUEUED: g_value_set_uint64 (value, current_stats (self).queued); break;
    case PROP_CONNECTED: g_value_set_boolean (value, current_stats (self).connected); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* The Publisher's events, posted on the bus (from its thread: posting is thread-safe). */
static void
post_event (GstDifferNetPublish * self, const differnet::PublishEvent & e)
{
  using Kind = differnet::PublishEvent::Kind;
  switch (e.kind) {
    case Kind::Connected:
    case Kind::Written:
      if (e.restored)
        GST_ELEMENT_INFO (self, RESOURCE, WRITE, ("Publishing resumed: %s", e.text.c_str ()),
            ("%" G_GUINT64_FORMAT " message(s) were dropped while it was not possible (see messages-dropped)", e.lost));
      else
        GST_INFO_OBJECT (self, "%s", e.text.c_str ());
      break;
    case Kind::ConnectFailed:
    case Kind::ConnectionLost:
      GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE, ("Cannot publish: %s", e.text.c_str ()),
          ("Results wait in the queue (queue-size) and the oldest are dropped when it is full; the video goes on"));
      break;
    case Kind::WriteFailed:
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Cannot publish: %s", e.text.c_str ()),
          ("The results that cannot be written are counted in messages-dropped; the video goes on"));
      break;
    case Kind::Dropping:
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Publishing falls behind: %s", e.text.c_str ()),
          ("Counted in messages-dropped; an info message follows when publishing resumes"));
      break;
  }
}

static gboolean
read_password (const std::string & path, std::string & password, std::string & error)
{
  gchar *contents = NULL;
  GError *err = NULL;
  if (!g_file_get_contents (path.c_str (), &contents, NULL, &err)) {
    error = std::string ("cannot read password-file: ") + err->message;
    g_error_free (err);
    return FALSE;
  }
  std::string text (contents);
  g_free (contents);
  const size_t end = text.find_first_of ("\r\n");
  password = text.substr (0, end);
  if (password.empty ()) {
    error = "password-file '" + path + "' has an empty first line";
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_differnet_publish_start (GstBaseTransform * trans)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (trans);
  GST_OBJECT_LOCK (self);
  const PublishSettings s = *self->settings;
  GST_OBJECT_UNLOCK (self);

  differnet::PublishTarget target;
  target.method = s.method == GST_DIFFERNET_PUBLISH_METHOD_FILE ? differnet::PublishTarget::Method::File
      : differnet::PublishTarget::Method::Mqtt;
  target.location = s.location;
  target.topic = s.topic;
  target.qos = static_cast<int>(s.qos);
  target.client_id = s.client_id;
  target.username = s.username;
  target.ca_file = s.ca_file;
  target.cert_file = s.cert_file;
  target.key_file = s.key_file;
  target.queue_size = s.queue_size;
  target.reconnect_max_s = s.reconnect_max_delay;
  std::string invalid;
  if (target.method == differnet::PublishTarget::Method::Mqtt) {
    try {
      differnet::parse_address (s.address, target.host, target.port);
    } catch (const std::exception & e) {
      invalid = std::string ("address ") + e.what ();
    }
    if (invalid.empty ()) {
      try {
        differnet::check_topic (s.topic);
      } catch (const std::exception & e) {
        invalid = std::string ("topic ") + e.what ();
      }
    }
    if (invalid.empty () && !s.password_file.empty ())
      read_password (s.password_file, target.password, invalid);
    if (invalid.empty () && !s.password_file.empty () && s.username.empty ())
      invalid = "password-file is set but username is not";
  } else if (s.location.empty ()) {
    invalid = "method=file needs location (the JSON-lines file to append to)";
  }
  if (!invalid.empty ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid property value: %s", invalid.c_str ()), (NULL));
    return FALSE;
  }

  auto run = std::make_unique<PublishRun> ();
  run->stream = s.stream.empty () ? std::string (GST_OBJECT_NAME (self)) : s.stream;
  run->host = g_get_host_name ();
  gst_video_info_init (&run->info);
  try {
    run->publisher = std::make_unique<differnet::Publisher> (target,
        [self] (const differnet::PublishEvent & e) { post_event (self, e); },
        s.required && target.method == differnet::PublishTarget::Method::Mqtt ? REQUIRED_WAIT_S : 0.0);
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, ("Cannot publish: %s", e.what ()),
        (s.required ? "required=true: publishing must work from the start" : NULL));
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->run = run.release ();
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_differnet_publish_stop (GstBaseTransform * trans)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (trans);
  GST_OBJECT_LOCK (self);
  PublishRun *run = self->run;
  const guint drain_ms = self->settings->drain_timeout;
  GST_OBJECT_UNLOCK (self);
  if (!run)
    return TRUE;
  run->publisher->stop (drain_ms / 1000.0);
  GST_OBJECT_LOCK (self);
  *self->last_stats = run->publisher->stats ();
  self->run = NULL;
  GST_OBJECT_UNLOCK (self);
  delete run;
  return TRUE;
}

static gboolean
gst_differnet_publish_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps *)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (trans);
  if (self->run)
    self->run->have_info = gst_video_info_from_caps (&self->run->info, incaps);
  return TRUE;
}

/* The frame as a JPEG of at most max_bytes (quality lowered from 90 to 30 until it fits), or ""
 * with `why` set. */
static std::string
encode_jpeg (GstDifferNetPublish * self, GstBuffer * buf, guint max_bytes, std::string & why)
{
  PublishRun & run = *self->run;
  int code = -1, channels = 0;
  switch (run.have_info ? GST_VIDEO_INFO_FORMAT (&run.info) : GST_VIDEO_FORMAT_UNKNOWN) {
    case GST_VIDEO_FORMAT_RGB: code = cv::COLOR_RGB2BGR; channels = 3; break;
    case GST_VIDEO_FORMAT_BGR: code = -2; channels = 3; break;
    case GST_VIDEO_FORMAT_RGBx: case GST_VIDEO_FORMAT_RGBA: code = cv::COLOR_RGBA2BGR; channels = 4; break;
    case GST_VIDEO_FORMAT_BGRx: case GST_VIDEO_FORMAT_BGRA: code = cv::COLOR_BGRA2BGR; channels = 4; break;
    case GST_VIDEO_FORMAT_GRAY8: code = -2; channels = 1; break;
    default: break;
  }
  if (channels == 0) {
    why = "attach-frame needs raw RGB, BGR, RGBx, BGRx, RGBA, BGRA or GRAY8 video here";
    if (!run.frame_warned)
      GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("Cannot attach frames: %s", why.c_str ()),
          ("Place differnetpublish before any converter or encoder, right after differnetfilter"));
    run.frame_warned = true;
    return "";
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &run.info, buf, GST_MAP_READ)) {
    why = "the frame could not be mapped";
    return "";
  }
  cv::Mat in (GST_VIDEO_FRAME_HEIGHT (&frame), GST_VIDEO_FRAME_WIDTH (&frame), CV_8UC (channels),
      GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0));
  cv::Mat bgr;
  if (code == -2)
    bgr = in;
  else
    cv::cvtColor (in, bgr, code);
  std::vector<uchar> jpeg;
  bool fits = false;
  for (int quality : {90, 70, 50, 30}) {
    if (!cv::imencode (".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality}))
      break;
    if (jpeg.size () <= max_bytes) {
      fits = true;
      break;
    }
  }
  gst_video_frame_unmap (&frame);
  if (!fits) {
    why = "larger than frame-max-bytes even at JPEG quality 30";
    return "";
  }
  gchar *b64 = g_base64_encode (jpeg.data (), jpeg.size ());
  std::string out (b64);
  g_free (b64);
  return out;
}

static GstFlowReturn
gst_differnet_publish_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (trans);
  const GstDifferNetMeta *m = gst_buffer_get_differnet_meta (buf);
  if (m == NULL || self->run == NULL)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK (self);
  const GstDifferNetPublishWhat what = self->settings->what;
  const guint interval = self->settings->interval;
  const bool attach = self->settings->attach_frame;
  const guint max_bytes = self->settings->frame_max_bytes;
  GST_OBJECT_UNLOCK (self);

  PublishRun & run = *self->run;
  const int verdict = m->anomaly ? 1 : 0;
  const bool changed = verdict != run.last_verdict;
  run.last_verdict = verdict;
  if ((what == GST_DIFFERNET_PUBLISH_ANOMALIES && !m->anomaly) || (what == GST_DIFFERNET_PUBLISH_CHANGES && !changed))
    return GST_FLOW_OK;
  if (run.results++ % interval != 0)
    return GST_FLOW_OK;

  std::string extra = differnet::json_member ("stream", run.stream) + differnet::json_member ("host", run.host);
  extra += differnet::json_member_raw ("region", "{\"x\":" + std::to_string (m->region_x) + ",\"y\":" +
      std::to_string (m->region_y) + ",\"width\":" + std::to_string (m->region_width) + ",\"height\":" +
      std::to_string (m->region_height) + "}");
  extra += differnet::defects_member (buf);
  if (attach && m->anomaly) {
    std::string why;
    const std::string jpeg = encode_jpeg (self, buf, max_bytes, why);
    extra += jpeg.empty ()? differnet::json_member ("frame_jpeg_omitted", why) : differnet::json_member ("frame_jpeg", jpeg);
  }
  run.publisher->offer (differnet::result_json (*m, GST_BUFFER_PTS (buf), extra));
  return GST_FLOW_OK;
}

static void
gst_differnet_publish_finalize (GObject * object)
{
  GstDifferNetPublish *self = GST_DIFFERNET_PUBLISH (object);
  delete self->run;
  delete self->settings;
  delete self->last_stats;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void
gst_differnet_publish_class_init (GstDifferNetPublishClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags ready = (GParamFlags) (rw | GST_PARAM_MUTABLE_READY);
  const GParamFlags playing = (GParamFlags) (rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags ro = (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  gobject_class->set_property = gst_differnet_publish_set_property;
  gobject_class->get_property = gst_differnet_publish_get_property;
  gobject_class->finalize = gst_differnet_publish_finalize;

  g_object_class_install_property (gobject_class, PROP_METHOD,
      g_param_spec_enum ("method", "Method", "Where results go: an MQTT broker or a JSON-lines file",
          gst_differnet_publish_method_get_type (), GST_DIFFERNET_PUBLISH_METHOD_MQTT, ready));
  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location", "method=file: the JSON-lines file, appended to (required there)",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address", "method=mqtt: the broker as HOST:PORT ([IPv6]:PORT); "
          "a value that does not parse is an error at start", DEFAULT_ADDRESS, ready));
  g_object_class_install_property (gobject_class, PROP_TOPIC,
      g_param_spec_string ("topic", "Topic", "method=mqtt: the topic to publish to (no + or # wildcards: an "
          "error at start)", DEFAULT_TOPIC, ready));
  g_object_class_install_property (gobject_class, PROP_QOS,
      g_param_spec_uint ("qos", "QoS", "method=mqtt: MQTT quality of service: 0 at most once (a message handed "
          "to a connection that then breaks is lost uncounted), 1 at least once (unacknowledged messages are sent "
          "again after a reconnection), 2 exactly once", 0, 2, DEFAULT_QOS, ready));
  g_object_class_install_property (gobject_class, PROP_CLIENT_ID,
      g_param_spec_string ("client-id", "Client id", "method=mqtt: the MQTT client id; empty = a random one",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_USERNAME,
      g_param_spec_string ("username", "User name", "method=mqtt: the user name to log in with", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_PASSWORD_FILE,
      g_param_spec_string ("password-file", "Password file", "method=mqtt: a file whose first line is the "
          "password (kept out of command lines and process lists); needs username", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file", "method=mqtt: PEM file of the certificate authority "
          "that signed the broker's certificate; setting it turns TLS on (the broker's name is verified)",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_TLS_CERT_FILE,
      g_param_spec_string ("tls-cert-file", "TLS client certificate", "method=mqtt: PEM client certificate, "
          "for brokers that require one (with tls-key-file)", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_TLS_KEY_FILE,
      g_param_spec_string ("tls-key-file", "TLS client key", "method=mqtt: PEM private key of tls-cert-file "
          "(unencrypted)", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_STREAM,
      g_param_spec_string ("stream", "Stream", "The \"stream\" field of each message, naming the camera or line; "
          "empty = this element's name", NULL, ready));
  g_object_class_install_property (gobject_class, PROP_PUBLISH,
      g_param_spec_enum ("publish", "Publish", "Which results to publish",
          gst_differnet_publish_what_get_type (), GST_DIFFERNET_PUBLISH_ALL, playing));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval", "Publish every Nth of the results that 'publish' selects "
          "(1 = each of them)", 1, G_MAXUINT, DEFAULT_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_ATTACH_FRAME,
      g_param_spec_boolean ("attach-frame", "Attach frame", "Add the anomalous frames as a JPEG (base64, "
          "\"frame_jpeg\"), for the people who must look at them; needs raw RGB/BGR/RGBx/BGRx/RGBA/BGRA/GRAY8 video",
          FALSE, playing));
  g_object_class_install_property (gobject_class, PROP_FRAME_MAX_BYTES,
      g_param_spec_uint ("frame-max-bytes", "Frame size cap", "Largest attached JPEG in bytes (before base64): "
          "the quality is lowered from 90 to 30 to fit, else \"frame_jpeg_omitted\" says why",
          1024, G_MAXINT, DEFAULT_FRAME_MAX_BYTES, playing));
  g_object_class_install_property (gobject_class, PROP_QUEUE_SIZE,
      g_param_spec_uint ("queue-size", "Queue size", "Messages waiting to be published at most; when full, the "
          "oldest is dropped (messages-dropped) and the video goes on", 1, 10000000, DEFAULT_QUEUE_SIZE, ready));
  g_object_class_install_property (gobject_class, PROP_REQUIRED,
      g_param_spec_boolean ("required", "Required", "method=mqtt: fail the start when the broker does not accept "
          "the connection within 5 s (default: a warning, and the client keeps trying)", FALSE, ready));
  g_object_class_install_property (gobject_class, PROP_RECONNECT_MAX_DELAY,
      g_param_spec_uint ("reconnect-max-delay", "Reconnect delay cap", "method=mqtt: longest wait between "
          "connection attempts in seconds (the wait starts at 1 s and doubles)", 1, 3600,
          DEFAULT_RECONNECT_MAX_DELAY, ready));
  g_object_class_install_property (gobject_class, PROP_DRAIN_TIMEOUT,
      g_param_spec_uint ("drain-timeout", "Drain timeout", "At stop, how long to wait (ms) for queued messages "
          "to be published; what is left counts as dropped", 0, 600000, DEFAULT_DRAIN_TIMEOUT, ready));
  g_object_class_install_property (gobject_class, PROP_MESSAGES_PUBLISHED,
      g_param_spec_uint64 ("messages-published", "Messages published", "Messages delivered since start (QoS 1/2: "
          "acknowledged by the broker; QoS 0: handed to the connection; file: written)", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_MESSAGES_DROPPED,
      g_param_spec_uint64 ("messages-dropped", "Messages dropped", "Messages dropped since start (queue full, "
          "write errors, left at stop)", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_MESSAGES_QUEUED,
      g_param_spec_uint64 ("messages-queued", "Messages queued", "Messages waiting now", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected", "Whether the broker has accepted the connection (file: open)",
          FALSE, ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "DifferNet result publisher", "Sink/Network",
      "Publishes the DifferNet result of each buffer (GstDifferNetMeta) as JSON to an MQTT broker or a "
      "JSON-lines file, off the streaming thread; buffers pass through unchanged",
      "gst-differnet contributors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_differnet_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_differnet_publish_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_differnet_publish_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_differnet_publish_transform_ip);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;

  gst_type_mark_as_plugin_api (gst_differnet_publish_method_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_differnet_publish_what_get_type (), (GstPluginAPIFlags) 0);
  GST_DEBUG_CATEGORY_INIT (gst_differnet_publish_debug, "differnetpublish", 0, "DifferNet result publisher");
}

static void
gst_differnet_publish_init (GstDifferNetPublish * self)
{
  self->settings = new PublishSettings ();
  self->run = NULL;
  self->last_stats = new differnet::Publisher::Stats ();
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
