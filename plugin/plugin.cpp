/* The differnet plugin: registers every element it has. */
#include <gst/gst.h>

#include <gst/differnet/differnetmeta.h>
#include "gstdiffernetfilter.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gst_differnet_custom_meta_register ();
  return GST_ELEMENT_REGISTER (differnetfilter, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, differnet,
    "DifferNet defect detection (normalizing flows on ImageNet features)",
    plugin_init, PACKAGE_VERSION, "MIT/X11", PACKAGE_NAME, "https://github.com/gst-differnet")
