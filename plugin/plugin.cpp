/* The differnet plugin: registers every element it has. */
#include <gst/gst.h>

#include <gst/differnet/differnetmeta.h>
#include "gstdiffernetfilter.h"
#ifdef HAVE_DIFFERNETPUBLISH
#include "gstdiffernetpublish.h"
#endif

static gboolean
plugin_init (GstPlugin * plugin)
{
  gst_differnet_custom_meta_register ();
  gboolean ok = GST_ELEMENT_REGISTER (differnetfilter, plugin);
#ifdef HAVE_DIFFERNETPUBLISH
  ok = GST_ELEMENT_REGISTER (differnetpublish, plugin) && ok;
#endif
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, differnet,
    "DifferNet defect detection (normalizing flows on ImageNet features)",
    plugin_init, PACKAGE_VERSION, "MIT/X11", PACKAGE_NAME, "https://github.com/gst-differnet")
