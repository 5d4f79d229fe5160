/* The differnet plugin module (libgstdiffernet.so): GStreamer loads this; it sets the process's
 * OpenMP thread policy, then loads the core (libgstdiffernet-core.impl, beside it: the elements and
 * LibTorch) and lets it register the elements.
 *
 * Why two modules: LibTorch's CPU kernels run on OpenMP (libgomp) threads, which by default spin
 * (busy-wait, GOMP's spin count) after every parallel region before they sleep. With scoring
 * sharing its cores with the streaming thread, an encoder or other pipelines, the spinning threads
 * take the CPU the others need, and a parallel region waits for a thread that is not running: a
 * reference run measured a 2-thread backbone pass 10 times slower on a shared 2-core machine.
 * OMP_WAIT_POLICY=PASSIVE (waiting threads sleep at once) fixes it, but libgomp reads it only when
 * it is loaded, which is when LibTorch is: so it must be set before the core is loaded, here. The
 * user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins; DIFFERNET_OMP_WAIT_POLICY=keep leaves libgomp's
 * default; a process that loaded libgomp earlier (an application using OpenMP or LibTorch itself)
 * keeps its policy (logged). Measured in README.md ("Threads"). The .impl name keeps GStreamer's
 * plugin scanner, which looks at *.so files only, off the core. */
#include <dlfcn.h>
#include <gmodule.h>
#include <gst/gst.h>

#include <string>

GST_DEBUG_CATEGORY_STATIC (differnet_loader_debug);
#define GST_CAT_DEFAULT differnet_loader_debug

static void
set_thread_policy (void)
{
  const char *choice = g_getenv ("DIFFERNET_OMP_WAIT_POLICY");
  if (g_getenv ("OMP_WAIT_POLICY") || g_getenv ("GOMP_SPINCOUNT") || (choice && g_str_equal (choice, "keep"))) {
    GST_INFO ("OpenMP wait policy left as the environment says");
    return;
  }
  void *gomp = dlopen ("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (gomp) {
    dlclose (gomp);
    GST_INFO ("libgomp was loaded before the plugin: its wait policy stays (set OMP_WAIT_POLICY=PASSIVE "
        "before the process starts to make waiting threads sleep)");
    return;
  }
  g_setenv ("OMP_WAIT_POLICY", "PASSIVE", FALSE);
  GST_INFO ("OMP_WAIT_POLICY=PASSIVE: LibTorch's waiting threads sleep instead of spinning");
}

static gboolean
plugin_init (GstPlugin * plugin)
{
  GST_DEBUG_CATEGORY_INIT (differnet_loader_debug, "differnet", 0, "DifferNet plugin loader");
  set_thread_policy ();
  const gchar *self = gst_plugin_get_filename (plugin);
  gchar *dir = g_path_get_dirname (self ? self : ".");
  gchar *core_path = g_build_filename (dir, "libgstdiffernet-core.impl", NULL);
  g_free (dir);
  GModule *core = g_module_open (core_path, G_MODULE_BIND_LOCAL);
  if (!core) {
    GST_ERROR ("cannot load the DifferNet plugin's core '%s': %s", core_path, g_module_error ());
    g_printerr ("differnet plugin: cannot load its core '%s': %s\n", core_path, g_module_error ());
    g_free (core_path);
    return FALSE;
  }
  g_free (core_path);
  g_module_make_resident (core);        /* its GTypes live as long as the process */
  gboolean (*register_core) (GstPlugin *) = NULL;
  if (!g_module_symbol (core, "differnet_core_register", (gpointer *) & register_core) || !register_core) {
    GST_ERROR ("the DifferNet plugin's core has no differnet_core_register: %s", g_module_error ());
    return FALSE;
  }
  return register_core (plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, differnet,
    "DifferNet defect detection (normalizing flows on ImageNet features)",
    plugin_init, PACKAGE_VERSION, "MIT/X11", PACKAGE_NAME, "https://github.com/gst-differnet")
