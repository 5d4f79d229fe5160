/* The plugin's core (libgstdiffernet-core.impl: the elements, LibTorch and everything they need),
 * loaded by the small plugin module plugin.cpp once it has set the thread policy. Registers every
 * element the plugin has. */
#include <gmodule.h>
#include <gst/gst.h>

#include <gst/differnet/differnetmeta.h>
#include "gstdiffernetfilter.h"
#ifdef HAVE_DIFFERNETPUBLISH
#include "gstdiffernetpublish.h"
#endif

extern "C" G_MODULE_EXPORT gboolean differnet_core_register (GstPlugin * plugin);

extern "C" gboolean
differnet_core_register (GstPlugin * plugin)
{
  gst_differnet_custom_meta_register ();
  gboolean ok = GST_ELEMENT_REGISTER (differnetfilter, plugin);
#ifdef HAVE_DIFFERNETPUBLISH
  ok = GST_ELEMENT_REGISTER (differnetpublish, plugin) && ok;
#endif
  return ok;
}
