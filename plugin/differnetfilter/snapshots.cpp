#include "snapshots.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>


namespace differnet {

void
SnapshotWriter::save (GstElement * self, GstVideoFrame * frame, PixelFormat format, guint64 number)
{
  const int w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  const int bpp = bytes_per_pixel (format);
  cv::Mat in (h, w, CV_8UC (bpp), GST_VIDEO_FRAME_PLANE_DATA (frame, 0), GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0));
  cv::Mat bgr;
  switch (format) {
    case PixelFormat::RGB: cv::cvtColor (in, bgr, cv::COLOR_RGB2BGR); break;
    case PixelFormat::RGBx:
    case PixelFormat::RGBA: cv::cvtColor (in, bgr, cv::COLOR_RGBA2BGR); break;
    case PixelFormat::BGRx:
    case PixelFormat::BGRA: cv::cvtColor (in, bgr, cv::COLOR_BGRA2BGR); break;
    default: bgr = in; break;  // BGR and GRAY8 are written as they are
  }
  gchar name[64];
  g_snprintf (name, sizeof name, "frame-%08" G_GUINT64_FORMAT ".png", number);
  gchar *path = g_build_filename (dir.c_str (), name, NULL);
  std::vector<uchar> png;
  GError *error = NULL;
  bool ok = false;
  try {
    ok = cv::imencode (".png", bgr, png);
  } catch (const cv::Exception & e) {
    g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "PNG encoding failed: %s", e.what ());
  }
  if (ok) {
    /* Written to a temporary file and renamed: a reader never sees half a PNG. A folder removed
     * while running is made again, so that what can be kept is kept. */
    ok = g_file_set_contents (path, reinterpret_cast<const gchar *>(png.data ()), png.size (), &error);
    if (!ok && g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT)
        && g_mkdir_with_parents (dir.c_str (), 0755) == 0) {
      g_clear_error (&error);
      ok = g_file_set_contents (path, reinterpret_cast<const gchar *>(png.data ()), png.size (), &error);
    }
  } else if (!error) {
    g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "PNG encoding failed");
  }
  if (!ok) {
    /* Once per run of failures: the frames go on, their results stay in meta, messages and the
     * results file; the count of lost snapshots comes with the recovery message. */
    if (lost++ == 0)
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Could not write snapshot '%s': %s", path, error->message),
          ("Later snapshots that fail are not reported one by one; an info message says when they are "
           "written again and how many were lost"));
    g_error_free (error);
  } else if (lost > 0) {
    GST_ELEMENT_INFO (self, RESOURCE, WRITE, ("Snapshots are written again to '%s'", dir.c_str ()),
        ("%" G_GUINT64_FORMAT " snapshot(s) could not be written before '%s'", lost, path));
    lost = 0;
  }
  g_free (path);
}

}  // namespace differnet
