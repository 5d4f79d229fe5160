/* The enum types of differnetfilter's properties (GType registrations). */
#include "gstdiffernetfilter.h"

GType
gst_differnet_overlay_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_DIFFERNET_OVERLAY_NONE, "Draw nothing: pixels pass unchanged", "none"},
    {GST_DIFFERNET_OVERLAY_HEATMAP, "The localization heatmap only", "heatmap"},
    {GST_DIFFERNET_OVERLAY_SCORE, "The score text and the verdict border only", "score"},
    {GST_DIFFERNET_OVERLAY_ALL, "Heatmap, score text and verdict border", "all"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetOverlay", values));
  return type;
}

GType
gst_differnet_localization_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type)) {
    static const GEnumValue values[] = {
      {GST_DIFFERNET_LOCALIZATION_OFF, "No heatmap", "off"},
      {GST_DIFFERNET_LOCALIZATION_ON, "A heatmap for every scored frame", "on"},
      {GST_DIFFERNET_LOCALIZATION_ON_ANOMALY, "A heatmap only for frames judged anomalous", "on-anomaly"},
      {GST_DIFFERNET_LOCALIZATION_OFF, "No heatmap (the former boolean value)", "false"},
      {GST_DIFFERNET_LOCALIZATION_ON, "A heatmap for every scored frame (the former boolean value)", "true"},
      {0, NULL, NULL}
    };
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetLocalization", values));
  }
  return type;
}

GType
gst_differnet_localization_method_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type)) {
    static const GEnumValue values[] = {
      {GST_DIFFERNET_LOCALIZATION_METHOD_AUTO, "The local map when the model has a local scorer, else the gradient",
          "auto"},
      {GST_DIFFERNET_LOCALIZATION_METHOD_GRADIENT, "The gradient of the score (DifferNet's; a backward pass)",
          "gradient"},
      {GST_DIFFERNET_LOCALIZATION_METHOD_LOCAL, "The model's local scorer (the same forward pass)", "local"},
      {0, NULL, NULL}
    };
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetLocalizationMethod", values));
  }
  return type;
}

GType
gst_differnet_when_busy_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type)) {
    static const GEnumValue values[] = {
      {GST_DIFFERNET_WHEN_BUSY_WAIT, "A frame due for scoring waits for its own score", "wait"},
      {GST_DIFFERNET_WHEN_BUSY_PASS, "No frame waits: it goes on with the last result", "pass"},
      {0, NULL, NULL}
    };
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetWhenBusy", values));
  }
  return type;
}

GType
gst_differnet_message_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_DIFFERNET_MESSAGE_EVERY_FRAME, "A message for every frame", "every-frame"},
    {GST_DIFFERNET_MESSAGE_ON_CHANGE, "A message for the first frame and whenever the verdict changes", "on-change"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetMessageMode", values));
  return type;
}

GType
gst_differnet_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_DIFFERNET_MODE_INSPECT, "Score every frame with the model", "inspect"},
    {GST_DIFFERNET_MODE_LEARN, "Learn a model from the stream's frames, then inspect with it", "learn"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstDifferNetMode", values));
  return type;
}
